// cbednet evaluate: metrics of a trained model on a split, next to the split's majority-class baseline.
#include <filesystem>
#include <iostream>

#include "app/mpi_session.hpp"
#include "app/subcommands.hpp"
#include "app/trained_model.hpp"
#include "core/json.hpp"
#include "core/progress.hpp"
#include "core/train/evaluation.hpp"
#include "core/train/run_log.hpp"

namespace cbednet::app {

int run_evaluate(const Args& args) {
  const CommandSpec spec{"evaluate",
                         "Evaluate a checkpoint: top-1, top-5, macro-F1, balanced accuracy, crystal-system and "
                         "point-group accuracy, the majority baseline, and the confusion matrix.",
                         "cbednet evaluate --checkpoint FILE|RUNDIR --data PATH [--split test] [--out FILE.json]"};
  po::options_description options("evaluate options");
  // clang-format off
  options.add_options()
    ("data", po::value<std::string>()->required(), "SMC-2019 directory or file, or a packed file")
    ("out", po::value<std::string>(), "write the metrics as JSON here (and the confusion matrix beside it as CSV)");
  // clang-format on
  add_inference_options(options, "test");
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  const auto data = (*vm)["data"].as<std::string>();
  const auto split = (*vm)["split"].as<std::string>();
  const auto out = vm->count("out") != 0U ? (*vm)["out"].as<std::string>() : std::string();

  auto [trained, loader_ptr] = open_inference(*vm, data);
  io::DistributedLoader& loader = *loader_ptr;
  Progress progress("evaluate", "samples", static_cast<std::int64_t>((loader.size() + world_size() - 1) / world_size()),
                    Progress::wanted((*vm)["quiet"].as<bool>()));  // rank 0's share, about
  const Predictions p = predict_all(
      *trained.stage, loader, trained.views, [&](std::int64_t n) { progress.advance(n); }, trained.forward);
  progress.finish();
  const MetricsAccumulator acc = evaluate_predictions(
      p, loader.labels(), metrics_for(static_cast<int>(trained.info.spec.classes)), MPI_COMM_WORLD);
  const ClassificationMetrics m = acc.compute();

  if (world_rank() == 0) {
    std::printf("checkpoint %s (%s), data %s, split %s: %lld samples\n", trained.checkpoint.c_str(),
                trained.info.spec.arch.c_str(), data.c_str(), split.c_str(), static_cast<long long>(m.samples));
    if (trained.averaged_weights) std::printf("  weights: the moving average of the run (--ema-decay)\n");
    if (trained.folded_batch_norms > 0)
      std::printf("  %d batch norms folded into their convolutions (--fold-batch-norm off runs them apart)\n",
                  trained.folded_batch_norms);
    std::printf("  %-26s %8s %12s\n", "metric", "model", "majority");
    std::printf("  %-26s %8.4f %12.4f\n", "top-1 accuracy", m.top1, m.majority_top1);
    std::printf("  %-26s %8.4f %12s\n", "top-5 accuracy", m.top5, "-");
    std::printf("  %-26s %8.4f %12.4f\n", "macro-F1", m.macro_f1, m.majority_macro_f1);
    std::printf("  %-26s %8.4f %12.4f\n", "balanced accuracy", m.balanced_accuracy, m.majority_balanced_accuracy);
    std::printf("  %-26s %8.4f\n", "crystal-system accuracy", m.crystal_system_accuracy);
    std::printf("  %-26s %8.4f\n", "point-group accuracy", m.point_group_accuracy);
    std::printf("  (majority class: space group %d)\n", m.majority_class + 1);
    if (loader.bad_samples() > 0) std::printf("  skipped %zu bad samples\n", loader.bad_samples());
    for (const auto& reason : loader.skipped_at_open()) std::printf("  skipped at open: %s\n", reason.c_str());
    if (!out.empty()) {
      const std::size_t nulls_before = json_nulls_written();
      write_file_atomically(out, "{\"checkpoint\": " + json_string(trained.checkpoint) +
                                     ", \"data\": " + json_string(data) + ", \"split\": " + json_string(split) +
                                     ", \"metrics\": " + metrics_json(m) + "}\n");
      if (json_nulls_written() > nulls_before)
        std::printf("  note: %zu metrics are not finite (no samples of a class, or a NaN model) and are null in %s\n",
                    json_nulls_written() - nulls_before, out.c_str());
      const auto confusion = std::filesystem::path(out).replace_extension(".confusion.csv");
      write_file_atomically(confusion, acc.confusion_csv());
      std::printf("  wrote %s and %s\n", out.c_str(), confusion.string().c_str());
    }
  }
  return 0;
}

}  // namespace cbednet::app
