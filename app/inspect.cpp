// cbednet inspect: samples, shape, dtype, split counts and label histograms (space group, crystal system) of a
// data directory, SMC file or packed file; --preview draws K samples into a PNG (scripts/report/cbednet_report.py).
#include <iostream>

#include "app/mpi_session.hpp"
#include "app/options.hpp"
#include "app/plot_script.hpp"
#include "app/subcommands.hpp"
#include "io/hdf5/convert.hpp"

namespace cbednet::app {

int run_inspect(const Args& args) {
  const CommandSpec spec{
      "inspect", "Summarise a data directory, SMC-2019 file or packed file.",
      "cbednet inspect PATH [--split train|dev|test|all] [--json] [--preview OUT.png [--samples K]]"};
  po::options_description options("inspect options");
  // clang-format off
  options.add_options()("path", po::value<std::string>()->required(), "directory, SMC file or packed file")(
      "split", po::value<std::string>()->default_value("all"), "train, dev, test or all")(
      "json", po::bool_switch(), "print JSON instead of text")(
      "preview", po::value<std::string>(), "draw samples (3 projections, raw and log-scaled) into this PNG")(
      "samples", po::value<long>()->default_value(4), "samples in the preview");
  // clang-format on
  po::positional_options_description positional;
  positional.add("path", 1);
  const auto vm = parse_options(spec, options, args, &positional);
  if (!vm) return 0;
  if (world_rank() != 0) return 0;
  if (vm->count("preview") != 0U) {
    require_positive(*vm, "samples");
    return run_plot_script(
        "preview", {"--path", (*vm)["path"].as<std::string>(), "--out", (*vm)["preview"].as<std::string>(), "--samples",
                    std::to_string((*vm)["samples"].as<long>())});
  }
  const auto summary = io::summarise((*vm)["path"].as<std::string>(), (*vm)["split"].as<std::string>());
  std::cout << ((*vm)["json"].as<bool>() ? io::to_json(summary) : io::to_text(summary));
  return 0;
}

}  // namespace cbednet::app
