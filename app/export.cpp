// cbednet export: a checkpoint's network as an ONNX model with the preprocessing in front (interop/onnx,
// docs/interop.md).
#include <filesystem>
#include <iostream>

#include "app/mpi_session.hpp"
#include "app/subcommands.hpp"
#include "app/trained_model.hpp"
#include "interop/onnx/onnx_model.hpp"
#include "io/hdf5/convert.hpp"
#include "io/hdf5/packed_file.hpp"

namespace cbednet::app {

namespace {

// The preprocessing the network expects in front of it: --preprocessing when given; the packed file's own when the
// run trained on one (its pixels were log-scaled and downsampled when it was converted, so the run's flags did not
// apply); else the run's --log-scale and --downsample.
io::Preprocess preprocessing_for(const po::variables_map& vm, const io::CheckpointInfo& info,
                                 const std::string& checkpoint) {
  io::Preprocess p;
  if (vm.count("preprocessing") != 0U) {
    p = io::Preprocess::parse(vm["preprocessing"].as<std::string>());
  } else {
    const auto data = ini_value(info.config, "data").value_or("");
    std::error_code ec;
    if (!data.empty() && std::filesystem::is_regular_file(data, ec) && io::is_packed_file(data)) {
      p = io::Preprocess::parse(io::summarise(data).preprocessing);
    } else {
      p = recorded_preprocess(info.config, checkpoint);
      if (!data.empty() && !std::filesystem::exists(data, ec))
        std::cerr << "export: note: the training data " << data
                  << " is gone, so the preprocessing is the run's --log-scale/--downsample; if it was a packed file, "
                     "give its preprocessing with --preprocessing\n";
    }
  }
  p.separate_views = ini_value(info.config, "views").value_or("stack") == "random";
  return p;
}

}  // namespace

int run_export(const Args& args) {
  const CommandSpec spec{"export", "Export a checkpoint's network as an ONNX model (opset 17) for onnxruntime & co.",
                         "cbednet export --checkpoint FILE|RUNDIR --out model.onnx [--fold-bn]"};
  po::options_description options("export options");
  // clang-format off
  options.add_options()
    ("checkpoint", po::value<std::string>()->required(), "checkpoint file, or a run directory (newest checkpoint)")
    ("out", po::value<std::string>()->required(), "ONNX file to write")
    ("fold-bn", po::bool_switch(), "fold batch norm into the convolutions (weights and biases) instead of "
                                   "BatchNormalization nodes")
    ("preprocessing", po::value<std::string>(),
     "preprocessing in front of the network, as packed files record it (log_scale=1;downsample=2;views=stack;"
     "mean=;std=); default: what the run used");
  // clang-format on
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  if (world_rank() != 0) return 0;  // one process writes the file
  const std::string checkpoint = resolve_checkpoint((*vm)["checkpoint"].as<std::string>());
  const std::string out = (*vm)["out"].as<std::string>();
  const io::CheckpointInfo info = io::read_checkpoint_info(checkpoint);
  const io::Preprocess preprocess = preprocessing_for(*vm, info, checkpoint);
  const auto loaded = io::load_checkpoint(checkpoint, info.spec);
  interop::export_onnx(out, info.spec, loaded.tensors, preprocess, {info.config, checkpoint},
                       {(*vm)["fold-bn"].as<bool>()});
  std::printf("wrote %s: %s, %lld classes, input cbed [N, %lld, %lld, %lld] (preprocessing %s), batch norm %s\n",
              out.c_str(), info.spec.arch.c_str(), static_cast<long long>(info.spec.classes),
              static_cast<long long>(info.spec.in_channels),
              static_cast<long long>(info.spec.input_size * preprocess.downsample),
              static_cast<long long>(info.spec.input_size * preprocess.downsample), preprocess.describe().c_str(),
              (*vm)["fold-bn"].as<bool>() ? "folded" : "kept");
  return 0;
}

}  // namespace cbednet::app
