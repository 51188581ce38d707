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

std::string resolve_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  std::string skipped;
  const auto latest = io::latest_checkpoint((fs::path(path) / "checkpoints").string(), &skipped);
  CBEDNET_REQUIRE(latest.has_value(), InvalidArgument, "--checkpoint ", path, ": no usable checkpoint in ",
                  (fs::path(path) / "checkpoints").string(), skipped.empty() ? "" : " (" + skipped + ")");
  return *latest;
}

io::Preprocess recorded_preprocess(const std::string& ini, const std::string& checkpoint) {
  io::Preprocess p;
  p.log_scale = ini_value(ini, "log-scale").value_or("false") == "true";
  const std::string downsample = ini_value(ini, "downsample").value_or("1");
  CBEDNET_REQUIRE(downsample == "1" || downsample == "2" || downsample == "4", InvalidArgument, "checkpoint ",
                  checkpoint, ": its configuration records downsample = '", downsample, "' (expected 1, 2 or 4)");
  p.downsample = downsample[0] - '0';
  return p;
}

TrainedModel load_trained_model(const std::string& path, const BackendOptions& backend) {
  TrainedModel t;
  t.checkpoint = resolve_checkpoint(path);
  t.info = io::read_checkpoint_info(t.checkpoint);
  t.backend = make_backend(backend);
  t.model = std::make_unique<Model>(build_resnet(t.info.spec));
  t.stage = std::make_unique<Stage>(*t.backend, *t.model, 0, t.model->size(), 0);
  ModelTensors tensors = io::load_checkpoint(t.checkpoint, t.info.spec).tensors;
  // A run with --ema-decay is evaluated with its moving average of the weights (as its validation was).
  t.averaged_weights = !tensors.ema.empty();
  if (t.averaged_weights) tensors.parameters = std::move(tensors.ema);
  assign_tensors(t.stage->store(), tensors, t.checkpoint);
  t.preprocess = recorded_preprocess(t.info.config, t.checkpoint);
  t.views = parse_views(ini_value(t.info.config, "views").value_or("stack"));
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
    ("skip-bad", po::bool_switch(), "skip (and count) unreadable samples instead of failing")
    ("fold-batch-norm", po::value<std::string>()->default_value("on"),
     "on: fold each batch norm into the convolution before it (one fused convolution each; the logits change "
     "only by rounding); off: run them apart, as in training's validation")
    ("cuda-graph", po::value<std::string>()->default_value("off"),
     "on: record the forward once (a CUDA graph on GPUs) and replay it for every batch of that size; off: eager "
     "(the CPU backends always run eagerly)");
  // clang-format on
  options.add(backend_options());
}

io::SourceOptions inference_source_options(const po::variables_map& vm, const TrainedModel& trained,
                                           const ForeignData& foreign) {
  return {.split = vm["split"].as<std::string>(),
          .preprocess = trained.preprocess,
          .skip_bad = vm["skip-bad"].as<bool>(),
          .allow_unlabelled = foreign.allow_unlabelled,
          .dataset = foreign.dataset,
          .input_size = static_cast<int>(trained.info.spec.input_size)};
}

Inference open_inference(const po::variables_map& vm, const std::string& data, const ForeignData& foreign) {
  require_positive(vm, "batch");
  const auto fold = vm["fold-batch-norm"].as<std::string>();
  CBEDNET_REQUIRE(fold == "on" || fold == "off", InvalidArgument, "--fold-batch-norm: expected on or off, got '", fold,
                  "'");
  Inference run{load_trained_model(vm["checkpoint"].as<std::string>(), backend_options_from(vm)), nullptr};
  const auto graph = vm["cuda-graph"].as<std::string>();
  CBEDNET_REQUIRE(graph == "on" || graph == "off", InvalidArgument, "--cuda-graph: expected on or off, got '", graph,
                  "'");
  if (fold == "on") run.trained.folded_batch_norms = run.trained.stage->fold_batch_norms();
  if (graph == "on") run.trained.forward = ForwardMode::recorded;
  auto options = evaluation_loader_options(run.trained.preprocess, vm["split"].as<std::string>(),
                                           static_cast<std::size_t>(vm["batch"].as<long>()), world_size(),
                                           vm["skip-bad"].as<bool>());
  const auto source = inference_source_options(vm, run.trained, foreign);
  options.allow_unlabelled = source.allow_unlabelled;
  options.dataset = source.dataset;
  options.input_size = source.input_size;
  run.loader = std::make_unique<io::DistributedLoader>(data, MPI_COMM_WORLD, options);
  require_compatible(run.trained, run.loader->sample_shape(), data);
  return run;
}

}  // namespace cbednet::app
