#include "app/trained_model.hpp"

#include <filesystem>
#include <sstream>

#include "app/mpi_session.hpp"

namespace cbednet::app {

namespace fs = std::filesystem;

std::optional<std::string> ini_value(const std::string& ini, const std::string& key) {
  std::istringstream in(ini);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      const auto a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t\r");
      return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
    };
    if (trim(line.substr(0, eq)) == key) return trim(line.substr(eq + 1));
  }
  return std::nullopt;
}

TrainedModel load_trained_model(const std::string& path, const BackendOptions& backend) {
  TrainedModel t;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::string skipped;
    const auto latest = io::latest_checkpoint((fs::path(path) / "checkpoints").string(), &skipped);
    CBEDNET_REQUIRE(latest.has_value(), InvalidArgument, "--checkpoint ", path, ": no usable checkpoint in ",
                    (fs::path(path) / "checkpoints").string(), skipped.empty() ? "" : " (" + skipped + ")");
    t.checkpoint = *latest;
  } else {
    t.checkpoint = path;
  }
  t.info = io::read_checkpoint_info(t.checkpoint);
  t.backend = make_backend(backend);
  t.model = std::make_unique<Model>(build_resnet(t.info.spec));
  t.stage = std::make_unique<Stage>(*t.backend, *t.model, 0, t.model->size(), 0);
  ModelTensors tensors = io::load_checkpoint(t.checkpoint, t.info.spec).tensors;
  // A run with --ema-decay is evaluated with its moving average of the weights (as its validation was).
  t.averaged_weights = !tensors.ema.empty();
  if (t.averaged_weights) tensors.parameters = std::move(tensors.ema);
  assign_tensors(t.stage->store(), tensors, t.checkpoint);
  const auto& ini = t.info.config;
  t.preprocess.log_scale = ini_value(ini, "log-scale").value_or("false") == "true";
  t.preprocess.downsample = std::stoi(ini_value(ini, "downsample").value_or("1"));
  t.views = parse_views(ini_value(ini, "views").value_or("stack"));
  return t;
}

void require_compatible(const TrainedModel& trained, const Shape& sample, const std::string& data) {
  const auto& spec = trained.info.spec;
  const std::int64_t channels = trained.views == ViewMode::random ? sample.c : spec.in_channels;
  const bool views_ok = trained.views == ViewMode::stack || spec.in_channels == 1;
  CBEDNET_REQUIRE(views_ok && sample.c == channels && sample.h == spec.input_size && sample.w == spec.input_size,
                  InvalidArgument, "data ", data, " gives samples ", sample.str(), " but the model (", spec.arch,
                  ", checkpoint ", trained.checkpoint, ") takes ", spec.in_channels, "x", spec.input_size, "x",
                  spec.input_size, " inputs", trained.views == ViewMode::random ? " per projection" : "");
}

void add_inference_options(po::options_description& options, const std::string& default_split) {
  // clang-format off
  options.add_options()
    ("checkpoint", po::value<std::string>()->required(), "checkpoint file, or a run directory (newest checkpoint)")
    ("split", po::value<std::string>()->default_value(default_split), "train, dev, test or all")
    ("batch", po::value<long>()->default_value(64), "samples per step (all ranks together)")
    ("skip-bad", po::bool_switch(), "skip (and count) unreadable samples instead of failing");
  // clang-format on
  options.add(backend_options());
}

Inference open_inference(const po::variables_map& vm, const std::string& data) {
  require_positive(vm, "batch");
  Inference run{load_trained_model(vm["checkpoint"].as<std::string>(), backend_options_from(vm)), nullptr};
  run.loader = std::make_unique<io::DistributedLoader>(
      data, MPI_COMM_WORLD,
      evaluation_loader_options(run.trained.preprocess, vm["split"].as<std::string>(),
                                static_cast<std::size_t>(vm["batch"].as<long>()), world_size(),
                                vm["skip-bad"].as<bool>()));
  require_compatible(run.trained, run.loader->sample_shape(), data);
  return run;
}

}  // namespace cbednet::app
