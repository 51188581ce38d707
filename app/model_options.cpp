#include "app/model_options.hpp"

namespace cbednet::app {

po::options_description model_options(std::int64_t default_size, bool with_input) {
  po::options_description o("Model");
  if (with_input)
    // clang-format off
    o.add_options()
      ("size", po::value<long>()->default_value(default_size), "input height = width in pixels")
      ("in-channels", po::value<long>()->default_value(3), "input channels (3 projections, or 1 per view)");
  // clang-format on
  // clang-format off
  o.add_options()
    ("arch", po::value<std::string>()->default_value("resnet50"),
     "resnet18/34/50/101/152/200, resnet<depth> (bottleneck, depth = 3 blocks + 2), basic:<n,..> or bottleneck:<n,..>; "
     "pre-activation: preresnet18/34/50/101/152/200 (ImageNet), preresnet<depth> (CIFAR: 6n+2 basic below 164, "
     "9n+2 bottleneck from 164, e.g. preresnet1001; width 16 and small stem unless given), preact-basic:<n,..>, "
     "preact-bottleneck:<n,..>")
    ("classes", po::value<long>()->default_value(230), "number of classes (space groups)")
    ("width", po::value<long>()->default_value(64), "channels of the first stage (stage i has width * 2^i)")
    ("width-multiplier", po::value<double>()->default_value(1.0), "scales every stage width")
    ("stem", po::value<std::string>()->default_value("imagenet"),
     "imagenet (conv 7x7/2 + max pool) or small (conv 3x3/1, for inputs of a few dozen pixels)")
    ("dropout", po::value<double>()->default_value(0.0), "dropout before the fully connected layer")
    ("zero-init-residual", po::bool_switch(), "start each residual branch's last batch-norm scale at zero");
  // clang-format on
  return o;
}

ResNetSpec model_spec_from(const po::variables_map& vm) {
  ResNetSpec spec = resnet_spec(vm["arch"].as<std::string>());
  auto positive = [&](const char* name) {
    const long v = vm[name].as<long>();
    if (v <= 0) throw_error<InvalidArgument>("--", name, ": must be positive, got ", v);
    return static_cast<std::int64_t>(v);
  };
  spec.classes = positive("classes");
  if (spec.classes < 2) throw_error<InvalidArgument>("--classes: need at least 2, got ", spec.classes);
  if (vm.count("size") != 0U) spec.input_size = positive("size");
  if (vm.count("in-channels") != 0U) spec.in_channels = positive("in-channels");
  // The architecture's own width and stem (16 and small for the CIFAR pre-activation networks) unless given.
  if (!vm["width"].defaulted()) spec.base_width = positive("width");
  spec.width_multiplier = vm["width-multiplier"].as<double>();
  if (!(spec.width_multiplier > 0))
    throw_error<InvalidArgument>("--width-multiplier: must be positive, got ", spec.width_multiplier);
  const auto stem = vm["stem"].as<std::string>();
  if (vm["stem"].defaulted()) {
    // keep the architecture's stem
  } else if (stem == "imagenet") {
    spec.stem = StemKind::imagenet;
  } else if (stem == "small") {
    spec.stem = StemKind::small;
  } else {
    throw_error<InvalidArgument>("--stem: unknown stem '", stem, "' (expected imagenet or small)");
  }
  spec.dropout = vm["dropout"].as<double>();
  if (!(spec.dropout >= 0 && spec.dropout < 1))
    throw_error<InvalidArgument>("--dropout: must be in [0, 1), got ", spec.dropout);
  spec.zero_init_residual = vm["zero-init-residual"].as<bool>();
  return spec;
}

}  // namespace cbednet::app
