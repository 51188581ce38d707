#include "fuzz/probes.hpp"

#include <vector>

#include "app/model_options.hpp"
#include "app/options.hpp"
#include "core/error.hpp"
#include "io/checkpoint/checkpoint.hpp"
#include "io/hdf5/sample_source.hpp"
#include "io/hdf5/smc_file.hpp"

namespace cbednet::fuzz {

namespace {

// Runs `body`; a cbednet::Error is the clean outcome and becomes its message.
template <typename Body>
std::string rejected(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    std::string message = e.what();
    return message.empty() ? std::string("(empty error message)") : message;
  }
  return {};
}

}  // namespace

std::string probe_smc_file(const std::string& path) {
  return rejected([&] {
    const io::SmcFileReader reader(path);
    std::vector<float> pixels;
    for (std::size_t i = 0; i < reader.size(); ++i) {
      (void)reader.space_group(i);
      (void)reader.material(i);
      const int s = reader.stack_size(i);
      // A fuzzed dataspace can claim any size; stay below what one real sample (3x512x512) needs.
      if (s <= 0 || s > 1024) throw_error<IoError>("probe: sample ", i, " has stack size ", s);
      pixels.resize(3 * static_cast<std::size_t>(s) * static_cast<std::size_t>(s));
      (void)reader.read_stack(i, pixels.data(), 0);
      (void)reader.read(i);
    }
  });
}

std::string probe_source(const std::string& path) {
  return rejected([&] {
    const auto source = io::open_source(path);
    const Shape shape = source->sample_shape();
    const std::int64_t elements = shape.c * shape.h * shape.w;
    if (elements <= 0 || elements > 3 * 1024 * 1024) throw_error<IoError>("probe: sample shape ", shape.str());
    std::vector<float> pixels(static_cast<std::size_t>(elements));
    for (std::size_t i = 0; i < source->size() && i < 64; ++i) {
      (void)source->label(i);
      (void)source->material(i);
      (void)source->split(i);
      source->read(i, pixels.data());
    }
  });
}

std::string probe_checkpoint(const std::string& path) {
  return rejected([&] {
    (void)io::read_checkpoint_info(path);
    io::verify_checkpoint(path);
  });
}

std::string probe_options(const std::string& path) {
  return rejected([&] {
    namespace po = app::po;
    auto options = app::model_options(64);
    // clang-format off
    options.add_options()("data", po::value<std::string>()->required(), "data")(
        "epochs", po::value<long>()->default_value(10), "epochs")(
        "seed", po::value<unsigned long>()->default_value(1), "seed")(
        "lr", po::value<double>()->default_value(0.1), "lr")(
        "resume", po::bool_switch(), "resume")(
        "keep-checkpoints", po::value<int>()->default_value(3), "kept");
    // clang-format on
    const app::CommandSpec spec{"fuzz", "option parser probe", "fuzz --config FILE"};
    const auto vm = app::parse_options(spec, options, {"--config", path});
    if (!vm) return;
    app::require_positive(*vm, "epochs");
    (void)app::model_spec_from(*vm);
    (void)app::to_ini(*vm);
  });
}

}  // namespace cbednet::fuzz
