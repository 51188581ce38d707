// cbednet model: the per-block table of a ResNet (output shape, parameters, MACs, saved activations) and totals.
#include "core/model/model.hpp"

#include <cstdio>
#include <iostream>

#include "app/model_options.hpp"
#include "app/mpi_session.hpp"
#include "app/subcommands.hpp"

namespace cbednet::app {

int run_model(const Args& args) {
  const CommandSpec spec{"model", "Print a ResNet's blocks with output shape, parameters and forward MACs per sample.",
                         "cbednet model --arch resnet50 --classes 230 --size 512 [--json]"};
  auto options = model_options();
  // clang-format off
  options.add_options()("json", po::bool_switch(), "print JSON instead of a table");
  // clang-format on
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  const Model model = build_resnet(model_spec_from(*vm));
  if (world_rank() != 0) return 0;

  const auto& info = model.info();
  if ((*vm)["json"].as<bool>()) {
    std::cout << "{\"arch\": \"" << model.spec().arch << "\", \"classes\": " << model.classes() << ", \"input\": ["
              << model.spec().in_channels << ", " << model.spec().input_size << ", " << model.spec().input_size
              << "], \"parameters\": " << model.parameter_count()
              << ", \"forward_macs\": " << model.forward_macs_per_sample() << ", \"blocks\": [";
    for (std::size_t i = 0; i < info.size(); ++i) {
      const auto& b = info[i];
      std::cout << (i ? ", " : "") << "{\"name\": \"" << b.name << "\", \"output\": [" << b.output.c << ", "
                << b.output.h << ", " << b.output.w << "], \"parameters\": " << b.cost.parameters
                << ", \"forward_macs\": " << b.cost.forward_macs << ", \"saved_elements\": " << b.cost.saved_elements
                << "}";
    }
    std::cout << "]}\n";
    return 0;
  }
  std::printf("%s, %ld classes, input %ldx%ldx%ld (per sample)\n", model.spec().arch.c_str(),
              static_cast<long>(model.classes()), static_cast<long>(model.spec().in_channels),
              static_cast<long>(model.spec().input_size), static_cast<long>(model.spec().input_size));
  std::printf("%-14s %-18s %14s %14s %14s\n", "block", "output (C,H,W)", "parameters", "MACs", "saved MiB fp32");
  for (const auto& b : info) {
    char shape[64];
    std::snprintf(shape, sizeof shape, "%ld x %ld x %ld", static_cast<long>(b.output.c), static_cast<long>(b.output.h),
                  static_cast<long>(b.output.w));
    std::printf("%-14s %-18s %14ld %14ld %14.2f\n", b.name.c_str(), shape, static_cast<long>(b.cost.parameters),
                static_cast<long>(b.cost.forward_macs), static_cast<double>(b.cost.saved_elements) * 4.0 / (1 << 20));
  }
  std::printf("total: %ld blocks, %ld parameters, %.3f GMAC forward per sample\n", static_cast<long>(info.size()),
              static_cast<long>(model.parameter_count()), static_cast<double>(model.forward_macs_per_sample()) / 1e9);
  return 0;
}

}  // namespace cbednet::app
