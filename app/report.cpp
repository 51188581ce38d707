// cbednet report: one self-contained HTML page (every figure embedded as a base64 PNG, the PNGs beside it) of a
// run directory's training curves and, with --eval, of an evaluation: drawn by scripts/report/cbednet_report.py.
#include <filesystem>

#include "app/mpi_session.hpp"
#include "app/options.hpp"
#include "app/plot_script.hpp"
#include "app/subcommands.hpp"
#include "core/error.hpp"

namespace cbednet::app {

int run_report(const Args& args) {
  const CommandSpec spec{
      "report",
      "Write RUN/report/report.html: loss, top-1, learning rate and throughput per step and per "
      "epoch; with --eval the crystal-system, point-group and space-group confusion matrices and "
      "per-class precision, recall and F1; with --predictions a gallery of samples, the most confident "
      "mistakes first; the run's config.ini and the versions.",
      "cbednet report RUN [--eval FILE.json] [--predictions FILE.csv [--gallery K]] [--out DIR]"};
  po::options_description options("report options");
  // clang-format off
  options.add_options()
    ("run", po::value<std::string>()->required(), "run directory (config.ini, train.log, metrics.jsonl)")
    ("eval", po::value<std::string>(), "JSON written by cbednet evaluate --out (its .confusion.csv beside it)")
    ("predictions", po::value<std::string>(), "CSV written by cbednet predict --out (a gallery of its samples)")
    ("gallery", po::value<int>()->default_value(12), "samples in the gallery: the most confident mistakes first")
    ("out", po::value<std::string>(), "output directory (default RUN/report): report.html and the PNGs");
  // clang-format on
  po::positional_options_description positional;
  positional.add("run", 1);
  const auto vm = parse_options(spec, options, args, &positional);
  if (!vm) return 0;
  if (world_rank() != 0) return 0;  // one page, drawn once

  const std::filesystem::path run = (*vm)["run"].as<std::string>();
  CBEDNET_REQUIRE(std::filesystem::is_directory(run), IoError, run.string(),
                  ": not a run directory (no such directory)");
  const std::filesystem::path out =
      vm->count("out") != 0U ? std::filesystem::path((*vm)["out"].as<std::string>()) : run / "report";
  std::vector<std::string> script_args{"--run", run.string(), "--out", out.string()};
  if (vm->count("eval") != 0U) {
    const auto eval = (*vm)["eval"].as<std::string>();
    CBEDNET_REQUIRE(std::filesystem::is_regular_file(eval), IoError, "--eval ", eval,
                    ": no such file (write it with cbednet evaluate --out FILE.json)");
    script_args.insert(script_args.end(), {"--eval", eval});
  }
  const int gallery = (*vm)["gallery"].as<int>();
  CBEDNET_REQUIRE(gallery >= 1, InvalidArgument, "--gallery: expected at least 1 sample, got ", gallery);
  if (vm->count("predictions") != 0U) {
    const auto predictions = (*vm)["predictions"].as<std::string>();
    CBEDNET_REQUIRE(std::filesystem::is_regular_file(predictions), IoError, "--predictions ", predictions,
                    ": no such file (write it with cbednet predict --out FILE.csv)");
    script_args.insert(script_args.end(), {"--predictions", predictions, "--gallery", std::to_string(gallery)});
  }
  return run_plot_script("report", script_args);
}

}  // namespace cbednet::app
