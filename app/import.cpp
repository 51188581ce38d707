// cbednet import: an ONNX ResNet (torchvision's form, or CBEDNet's own export) as a CBEDNet checkpoint that
// predict, evaluate and train --init-from use (interop/onnx, docs/interop.md).
#include <sstream>

#include "app/mpi_session.hpp"
#include "app/options.hpp"
#include "app/subcommands.hpp"
#include "core/model/model.hpp"
#include "core/model/stage.hpp"
#include "interop/onnx/onnx_model.hpp"
#include "io/checkpoint/checkpoint.hpp"

namespace cbednet::app {

int run_import(const Args& args) {
  const CommandSpec spec{"import", "Import an ONNX ResNet (torchvision's form) as a CBEDNet checkpoint.",
                         "cbednet import --onnx model.onnx --out FILE.h5 [--input-size S]"};
  po::options_description options("import options");
  // clang-format off
  options.add_options()
    ("onnx", po::value<std::string>()->required(), "ONNX model file")
    ("out", po::value<std::string>()->required(), "checkpoint file to write")
    ("input-size", po::value<long>()->default_value(0),
     "the network's input height = width (default: the graph's input shape, or what CBEDNet's export recorded)");
  // clang-format on
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  if (world_rank() != 0) return 0;  // one process writes the file
  const std::string path = (*vm)["onnx"].as<std::string>();
  const std::string out = (*vm)["out"].as<std::string>();
  const long input_size = (*vm)["input-size"].as<long>();
  CBEDNET_REQUIRE(input_size >= 0, InvalidArgument, "--input-size: expected a positive size, got ", input_size);
  interop::ImportedOnnx imported = interop::import_onnx(path, input_size);

  // The checkpoint must load into the model it describes: build it and assign every tensor (names and shapes)
  // before anything is written.
  std::string config = imported.config;
  if (config.empty()) {
    std::ostringstream ini;
    ini << "# imported by cbednet import from " << path << "\narch = " << imported.spec.arch
        << "\nlog-scale = " << (imported.preprocess.log_scale ? "true" : "false")
        << "\ndownsample = " << imported.preprocess.downsample << "\nviews = stack\n";
    config = ini.str();
  }
  try {
    auto backend = make_backend(BackendOptions{});
    Model model = build_resnet(imported.spec);
    Stage stage(*backend, model, 0, model.size(), 0);
    assign_tensors(stage.store(), imported.tensors, path);
  } catch (const std::exception& e) {
    throw_error<InvalidArgument>("import ", path, ": the graph does not make a CBEDNet model: ", e.what());
  }
  io::save_checkpoint(out, imported.spec, TrainingState{}, config, imported.tensors);
  if (imported.spec.classes > 230)  // e.g. ImageNet's 1000: class i is space group i + 1 only up to 230
    std::printf(
        "note: %lld classes are more than the 230 space groups; fine-tune it with train --init-from %s "
        "--classes 230 before predict or evaluate\n",
        static_cast<long long>(imported.spec.classes), out.c_str());
  std::printf("wrote %s: %s, %lld classes, %lld input channels, input size %lld\n", out.c_str(),
              imported.spec.arch.c_str(), static_cast<long long>(imported.spec.classes),
              static_cast<long long>(imported.spec.in_channels), static_cast<long long>(imported.spec.input_size));
  return 0;
}

}  // namespace cbednet::app
