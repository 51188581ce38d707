// cbednet bench: training throughput (forward + backward + update) on synthetic data, printed as JSON; with
// --mode infer, the evaluation forward's throughput instead (batch norms folded unless --fold-batch-norm off).
// A benchmark, not a test: it reports what it measured, with the machine, the backend and the commit.
// With --grid PxD (under mpiexec with P*D ranks) it runs the hybrid pipeline x data-parallel step
// (core/parallel/hybrid_trainer.hpp) and adds per-rank compute/communication times and the bubble.
#include <mpi.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "app/bench_network.hpp"
#include "app/model_options.hpp"
#include "app/mpi_session.hpp"
#include "app/run_setup.hpp"
#include "app/subcommands.hpp"
#include "cbednet/build_info.hpp"
#include "core/batch_split.hpp"
#include "core/model/inference_graph.hpp"
#include "core/model/train_step.hpp"
#include "core/model/training_graph.hpp"
#include "core/parallel/balance.hpp"
#include "core/parallel/hybrid_trainer.hpp"
#include "core/progress.hpp"
#include "kernels/profiling_backend.hpp"

namespace cbednet::app {

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// Synthetic images [n,C,H,W] f32 and labels of global samples [first, first + n) (values do not matter for speed).
void synthetic(const Model& model, std::int64_t first, std::int64_t n, std::uint64_t seed, Tensor& images,
               Tensor& labels) {
  images = Tensor(model.input_shape(n), DType::f32);
  labels = Tensor({n, 1, 1, 1}, DType::i32);
  const RandomStream stream(seed, RngPurpose::test);
  const auto per = static_cast<std::uint64_t>(model.input_shape(1).count());
  auto pixels = images.span<float>();
  for (std::size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<float>(stream.normal(static_cast<std::uint64_t>(first) * per + i));
  for (std::int64_t i = 0; i < n; ++i)
    labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(
        stream.below(static_cast<std::uint64_t>(model.classes()), static_cast<std::uint64_t>(first + i), 1));
}

// The grid benchmark's per-rank entries from every rank's 7 gathered values (stage, replica, then the summed
// compute, p2p wait, reduce wait, update seconds and the bubble fraction); `bubble_mean` gets the ranks' mean bubble.
std::string per_rank_json(const std::vector<double>& all, long steps, double& bubble_mean) {
  std::ostringstream ranks;
  const std::size_t n = all.size() / 7;
  for (std::size_t r = 0; r < n; ++r) {
    const double* v = &all[7 * r];
    bubble_mean += v[6] / static_cast<double>(n);
    ranks << (r ? ", " : "") << "{\"rank\": " << r << ", \"stage\": " << v[0] << ", \"replica\": " << v[1]
          << ", \"compute_s\": " << v[2] / static_cast<double>(steps)
          << ", \"p2p_wait_s\": " << v[3] / static_cast<double>(steps)
          << ", \"reduce_wait_s\": " << v[4] / static_cast<double>(steps)
          << ", \"update_s\": " << v[5] / static_cast<double>(steps) << ", \"bubble\": " << v[6] << "}";
  }
  return ranks.str();
}

int run_grid_bench(const po::variables_map& vm, const ParallelChoice& parallel, Backend& backend, Model& model,
                   const std::string& precision) {
  const long batch = vm["batch"].as<long>();
  const long steps = vm["steps"].as<long>();
  const long warmup = std::max(0L, vm["warmup"].as<long>());
  const auto seed = vm["seed"].as<unsigned long>();
  const Grid grid(MPI_COMM_WORLD, parallel.stages, parallel.replicas);
  const BatchSplit split = split_batch(batch, grid.replicas(), parallel.micro_batch, grid.stages());
  const long share = split.share, micro = split.micro;
  HybridOptions options = parallel.hybrid;
  options.balance_micro_batch = micro;
  const double bucket_mb = static_cast<double>(options.bucket_bytes) / (1024.0 * 1024.0);
  HybridTrainer trainer(backend, model, grid, seed, options);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 5e-5, false});
  Tensor images, labels;
  if (grid.first_stage()) synthetic(model, grid.replica() * share, share, seed, images, labels);
  const Tensor* im = grid.first_stage() ? &images : nullptr;
  const Tensor* lb = grid.first_stage() ? &labels : nullptr;
  TrainStepOptions step_options{micro, 0.01, 0.1, seed, 0};
  for (long s = 0; s < warmup; ++s) {
    step_options.step = static_cast<std::uint64_t>(s);
    trainer.step(loss, optimizer, im, lb, batch, step_options);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  StageTimings sum;
  double last_loss = 0;
  const auto start = std::chrono::steady_clock::now();
  for (long s = 0; s < steps; ++s) {
    step_options.step = static_cast<std::uint64_t>(warmup + s);
    last_loss = trainer.step(loss, optimizer, im, lb, batch, step_options).mean_loss();
    const auto& t = trainer.timings();
    sum.step += t.step;
    sum.compute += t.compute;
    sum.p2p_wait += t.p2p_wait;
    sum.reduce_wait += t.reduce_wait;
    sum.update += t.update;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mine[7] = {static_cast<double>(grid.stage()),
                          static_cast<double>(grid.replica()),
                          sum.compute,
                          sum.p2p_wait,
                          sum.reduce_wait,
                          sum.update,
                          sum.bubble()};
  std::vector<double> all(7 * static_cast<std::size_t>(grid.stages() * grid.replicas()));
  MPI_Gather(mine, 7, MPI_DOUBLE, all.data(), 7, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (grid.world_rank() != 0) return 0;
  const int M = static_cast<int>(share / micro);
  double bubble_mean = 0;
  const std::string ranks = per_rank_json(all, steps, bubble_mean);
  const std::size_t n = all.size() / 7;
  std::ostringstream cuts;
  for (std::size_t i = 0; i < trainer.partition().cuts.size(); ++i)
    cuts << (i ? ", " : "") << trainer.partition().cuts[i];
  const double images_per_s = static_cast<double>(batch * steps) / seconds;
  std::cout << "{\"benchmark\": \"hybrid_train_step\", \"grid\": \"" << grid.stages() << "x" << grid.replicas()
            << "\", \"ranks\": " << n << ", \"schedule\": \"" << to_string(options.schedule) << "\", \"balance\": \""
            << vm["balance"].as<std::string>() << "\", \"cuts\": [" << cuts.str()
            << "], \"max_over_ideal\": " << trainer.partition().max_over_ideal << ", \"bucket_mb\": " << bucket_mb
            << ", \"buckets\": " << trainer.bucket_count() << ", \"transport_pipeline\": \""
            << to_string(trainer.pipeline_transport()) << "\", \"transport_reduce\": \""
            << to_string(trainer.reduce_transport()) << "\", \"device\": \"" << backend.name()
            << "\", \"precision\": \"" << precision << "\", \"arch\": \"" << model.spec().arch
            << "\", \"size\": " << model.spec().input_size << ", \"batch\": " << batch << ", \"micro_batch\": " << micro
            << ", \"micro_batches\": " << M << ", \"steps\": " << steps << ", \"images_per_s\": " << images_per_s
            << ", \"ms_per_step\": " << 1e3 * seconds / static_cast<double>(steps)
            << ", \"bubble_measured\": " << bubble_mean
            << ", \"bubble_theoretical\": " << theoretical_bubble(grid.stages(), M) << ", \"last_loss\": " << last_loss
            << ", \"threads\": " << omp_get_max_threads()
            << ", \"hardware_threads\": " << std::thread::hardware_concurrency() << ", \"cpu\": \"" << cpu_model()
            << "\", \"host\": \"" << host_name() << "\", \"commit\": \"" << build_info::git_commit
            << "\", \"per_rank\": [" << ranks << "]}\n";
  return 0;
}

// One JSON line: time per step, backend operations per step (each one kernel launch or more on a GPU, one per
// flat-buffer segment batch for the *_segments operations), time and calls per step by operation, then the 40
// costliest (operation, shape) pairs.
void print_op_profile(const std::vector<ProfilingBackend::Entry>& entries, long steps, double ms_per_step) {
  std::map<std::string, std::pair<long, double>> by_op;
  double total = 0;
  long calls = 0;
  for (const auto& e : entries) {
    by_op[e.op].first += e.calls;
    by_op[e.op].second += e.seconds;
    total += e.seconds;
    calls += e.calls;
  }
  std::vector<std::pair<std::string, std::pair<long, double>>> ops(by_op.begin(), by_op.end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
  const double per_step = 1e3 / static_cast<double>(steps);
  std::ostringstream out;
  out << "{\"benchmark\": \"op_profile\", \"ms_per_step\": " << ms_per_step
      << ", \"ms_per_step_in_ops\": " << total * per_step
      << ", \"ops_per_step\": " << static_cast<double>(calls) / static_cast<double>(steps) << ", \"by_op\": [";
  for (std::size_t i = 0; i < ops.size(); ++i)
    out << (i ? ", " : "") << "{\"op\": \"" << ops[i].first << "\", \"calls\": " << ops[i].second.first / steps
        << ", \"ms\": " << ops[i].second.second * per_step << "}";
  out << "], \"top\": [";
  for (std::size_t i = 0; i < std::min<std::size_t>(entries.size(), 40); ++i)
    out << (i ? ", " : "") << "{\"op\": \"" << entries[i].op << "\", \"tensor\": \"" << entries[i].shape
        << "\", \"calls\": " << entries[i].calls / steps << ", \"ms\": " << entries[i].seconds * per_step << "}";
  out << "]}\n";
  std::cout << out.str();
}

// One block_times JSON line (rank 0): per-block forward and backward milliseconds of one micro-batch, each the
// median of `repeats` timed runs (core/parallel/balance.hpp's measure_block_times, which --balance time runs with
// the minimum: the median stays right where the core is shared or throttled, as on the namespace cluster's nodes).
void print_block_times(Backend& backend, const Model& model, long micro_batch, std::uint64_t seed, int repeats,
                       const std::string& precision) {
  const BlockCosts costs =
      measure_block_times(backend, model.spec(), micro_batch, seed, repeats, BlockStatistic::median);
  if (world_rank() != 0) return;
  const auto list = [](const std::vector<double>& seconds) {
    std::ostringstream out;
    for (std::size_t i = 0; i < seconds.size(); ++i) out << (i ? ", " : "") << seconds[i] * 1e3;
    return out.str();
  };
  std::cout << "{\"benchmark\": \"block_times\", \"device\": \"" << backend.name() << "\", \"precision\": \""
            << precision << "\", \"arch\": \"" << model.spec().arch << "\", \"size\": " << model.spec().input_size
            << ", \"micro_batch\": " << micro_batch << ", \"repeats\": " << repeats << ", \"statistic\": \"median\""
            << ", \"blocks\": " << model.size() << ", \"forward_ms\": [" << list(costs.forward)
            << "], \"backward_ms\": [" << list(costs.backward) << "], \"threads\": " << omp_get_max_threads()
            << ", \"host\": \"" << host_name() << "\", \"commit\": \"" << build_info::git_commit << "\"}\n";
}

// What every single-rank result line ends with: the machine, the build and the device's facts.
std::string machine_fields(Backend& backend) {
  std::ostringstream out;
  out << ", \"threads\": " << omp_get_max_threads() << ", \"hardware_threads\": " << std::thread::hardware_concurrency()
      << ", \"cpu\": \"" << cpu_model() << "\", \"host\": \"" << host_name() << "\", \"cbednet\": \""
      << build_info::version << "\", \"commit\": \"" << build_info::git_commit << "\"";
  for (const auto& [key, value] : backend.device_facts()) out << ", \"" << key << "\": " << value;
  return out.str();
}

struct InferBench {
  long batch, steps, warmup;
  std::uint64_t seed;
  std::string precision;
  bool fold;
  bool cuda_graph;  // --cuda-graph on: replay the forward recorded once (InferenceGraph)
};

// The evaluation forward of a whole model (no gradients, no update) on images resident on the device, as
// PyTorch's `--infer` baseline measures its eval forward: one "inference" JSON line.
void run_infer_bench(Backend& backend, ProfilingBackend* profiler, Model& model, const InferBench& b) {
  Stage stage(backend, model, 0, model.size(), b.seed);
  const int folded = b.fold ? stage.fold_batch_norms() : 0;
  Tensor images, labels;
  synthetic(model, 0, b.batch, b.seed, images, labels);
  const PassInfo pass{Mode::eval, 0, 0, 0};
  // --cuda-graph on: the images are copied once into the recorded forward's input and every step is a replay (the
  // eager forward where the backend could not record: "cuda_graph": false in the result).
  std::unique_ptr<InferenceGraph> graph;
  Tensor device_images;
  if (b.cuda_graph) {
    graph = std::make_unique<InferenceGraph>(stage, b.batch);
    backend.copy(images, graph->input());
  } else {
    device_images = backend.allocate(images.shape());
    backend.copy(images, device_images);
  }
  Tensor logits;
  const auto forward = [&] { logits = graph ? graph->run().view() : stage.forward(device_images, pass, nullptr); };
  for (long s = 0; s < b.warmup; ++s) forward();
  backend.synchronize();
  if (profiler) profiler->reset();
  const auto start = std::chrono::steady_clock::now();
  for (long s = 0; s < b.steps; ++s) forward();
  backend.synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Tensor host_logits = download_f64(backend, logits);
  const bool finite = std::all_of(host_logits.span<double>().begin(), host_logits.span<double>().end(),
                                  [](double v) { return std::isfinite(v); });
  if (world_rank() != 0) return;
  const double images_per_s = static_cast<double>(b.batch * b.steps) / seconds;
  std::cout << "{\"benchmark\": \"inference\", \"device\": \"" << backend.name() << "\", \"precision\": \""
            << b.precision << "\", \"arch\": \"" << model.spec().arch << "\", \"size\": " << model.spec().input_size
            << ", \"batch\": " << b.batch << ", \"steps\": " << b.steps << ", \"folded_batch_norms\": " << folded
            << ", \"inputs\": \"resident on the device\", \"images_per_s\": " << images_per_s
            << ", \"ms_per_batch\": " << 1e3 * seconds / static_cast<double>(b.steps)
            << ", \"logits_finite\": " << (finite ? "true" : "false")
            << ", \"cuda_graph\": " << (graph && graph->captured() ? "true" : "false") << machine_fields(backend)
            << (profiler ? ", \"profiled\": true" : "") << "}\n";
  if (profiler) print_op_profile(profiler->entries(), b.steps, 1e3 * seconds / static_cast<double>(b.steps));
}

po::options_description bench_options() {
  auto options = model_options(128);
  // clang-format off
  options.add_options()
    ("batch", po::value<long>()->default_value(16), "global batch size")
    ("steps", po::value<long>()->default_value(5), "timed steps")
    ("warmup", po::value<long>()->default_value(2), "untimed steps first")
    ("seed", po::value<unsigned long>()->default_value(1), "random seed")
    ("mode", po::value<std::string>()->default_value("train"), "train: the training step; infer: the evaluation "
                                                                 "forward alone (--batch images per forward)")
    ("fold-batch-norm", po::value<std::string>()->default_value("on"), "--mode infer: on folds each batch norm into "
                                                                         "the convolution before it; off runs it apart")
    ("cuda-graph", po::value<std::string>()->default_value("off"), "on records the evaluation forward (--mode infer) "
                                                                   "or the whole training step (--mode train, one "
                                                                   "rank) once as a CUDA graph and times its replays "
                                                                   "(eager where the backend cannot record); off runs "
                                                                   "every step eagerly")
    ("profile-ops", po::bool_switch(), "time every backend operation alone (synchronised; slower) and print an "
                                       "op_profile JSON line after the result")
    ("network", po::bool_switch(), "measure the network instead (>= 2 ranks, one per node): point-to-point latency "
                                   "and bandwidth, allreduce times; --steps scales the repetitions")
    ("block-times", po::bool_switch(), "time every block's forward and backward pass alone at micro-batch --batch "
                                       "(the median of --steps runs) and print a block_times JSON line, which "
                                       "`cbednet plan --block-times` reads");
  // clang-format on
  // train's groups: --grid (run under mpiexec with P*D ranks; without it, one rank's serial step), micro-batches,
  // schedule, balance, buckets, transport, and the device options.
  options.add(parallel_options()).add(backend_options());
  return options;
}

// Every combination bench refuses, before a backend or a model exists.
void check_bench_options(const po::variables_map& vm, const ParallelChoice& parallel) {
  CBEDNET_REQUIRE(
      parallel.hybrid.recompute != Stage::Recompute::automatic, InvalidArgument,
      "--recompute auto: only train chooses blocks (from --activation-memory-gb); bench takes none or blocks");
  const bool profile_ops = vm["profile-ops"].as<bool>(), block_times = vm["block-times"].as<bool>();
  CBEDNET_REQUIRE(!(profile_ops && parallel.grid_given), InvalidArgument, "--profile-ops: not with --grid");
  const auto mode = vm["mode"].as<std::string>(), fold = vm["fold-batch-norm"].as<std::string>();
  CBEDNET_REQUIRE(mode == "train" || mode == "infer", InvalidArgument, "--mode: expected train or infer, got '", mode,
                  "'");
  CBEDNET_REQUIRE(fold == "on" || fold == "off", InvalidArgument, "--fold-batch-norm: expected on or off, got '", fold,
                  "'");
  const auto cuda_graph = vm["cuda-graph"].as<std::string>();
  CBEDNET_REQUIRE(cuda_graph == "on" || cuda_graph == "off", InvalidArgument, "--cuda-graph: expected on or off, got '",
                  cuda_graph, "'");
  CBEDNET_REQUIRE(cuda_graph == "off" || (!parallel.grid_given && !block_times), InvalidArgument,
                  "--cuda-graph on: one rank's step or forward; not with --grid or --block-times");
  CBEDNET_REQUIRE(cuda_graph == "off" || !profile_ops, InvalidArgument,
                  "--cuda-graph on: not with --profile-ops (profiling times every operation eagerly; a graph replays "
                  "them as one launch)");
  CBEDNET_REQUIRE(mode == "train" || (!parallel.grid_given && !block_times), InvalidArgument,
                  "--mode infer: one rank's forward; not with --grid or --block-times");
  CBEDNET_REQUIRE(!(block_times && profile_ops), InvalidArgument, "--block-times: not with --profile-ops");
}

struct TrainBench {
  long batch, steps, warmup;
  std::uint64_t seed;
  const ParallelChoice& parallel;
  const BackendOptions& backend;
  bool cuda_graph;  // --cuda-graph on: replay the step recorded once (TrainingGraph)
  bool quiet;
};

// One rank's serial training step (forward, backward, update) on images resident on the device, as PyTorch's
// training baseline measures its step: one "train_step" JSON line.
void run_train_bench(Backend& backend, ProfilingBackend* profiler, Model& model, const TrainBench& b) {
  Stage stage(backend, model, 0, model.size(), b.seed);
  stage.set_recompute(b.parallel.hybrid.recompute);
  const int fused_blocks = stage.set_fused_batch_norm(b.parallel.hybrid.fused_batch_norm);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 5e-5, false});

  // Synthetic data: fixed random images and labels (throughput does not depend on the values).
  Tensor images, labels;
  synthetic(model, 0, b.batch, b.seed, images, labels);

  // The images live on the backend's device in its dtype and layout, as the peer benchmark's do (PyTorch's
  // baseline draws them on the GPU): the step is measured, not the host-to-device transfer, which a training run
  // overlaps with compute (Backend::upload_async).
  Tensor device_images = backend.allocate(images.shape());
  backend.copy(images, device_images);
  TrainStepOptions step_options{split_batch(b.batch, 1, b.parallel.micro_batch).micro, 0.01, 0.1, b.seed, 0};
  // --cuda-graph on: the whole step recorded once (TrainingGraph: eager on its first run, recorded on its second)
  // and replayed; the labels live on the device too, and the step's loss is read back once, after the timed steps.
  std::unique_ptr<TrainingGraph> graph;
  if (b.cuda_graph)
    graph = std::make_unique<TrainingGraph>(stage, loss, optimizer, device_images, upload_labels(backend, labels));
  const auto train = [&]() -> double {
    if (!graph) return train_step(stage, loss, optimizer, device_images, labels, step_options).mean_loss();
    graph->run(step_options);
    return 0.0;
  };
  for (long s = 0; s < b.warmup; ++s) {
    step_options.step = static_cast<std::uint64_t>(s);
    train();
  }
  backend.synchronize();
  if (profiler) profiler->reset();
  Progress progress("bench", "steps", b.steps, Progress::wanted(b.quiet));
  const auto start = std::chrono::steady_clock::now();
  double last_loss = 0;
  for (long s = 0; s < b.steps; ++s) {
    step_options.step = static_cast<std::uint64_t>(b.warmup + s);
    last_loss = train();
    progress.advance();
  }
  progress.finish();
  backend.synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (graph) last_loss = graph->stats().mean_loss();
  if (world_rank() != 0) return;
  const double images_per_s = static_cast<double>(b.batch * b.steps) / seconds;
  std::cout << "{\"benchmark\": \"train_step\", \"device\": \"" << backend.name() << "\", \"precision\": \""
            << b.backend.precision << "\", \"arch\": \"" << model.spec().arch
            << "\", \"size\": " << model.spec().input_size << ", \"batch\": " << b.batch
            << ", \"micro_batch\": " << step_options.micro_batch << ", \"steps\": " << b.steps << ", \"recompute\": \""
            << to_string(b.parallel.hybrid.recompute) << "\", \"fused_batch_norm_blocks\": " << fused_blocks
            << ", \"inputs\": \"resident on the device\", \"deterministic\": "
            << (b.backend.deterministic ? "true" : "false") << ", \"images_per_s\": " << images_per_s
            << ", \"ms_per_step\": " << 1e3 * seconds / static_cast<double>(b.steps)
            << ", \"gflop_per_s\": " << images_per_s * 6.0 * static_cast<double>(model.forward_macs_per_sample()) / 1e9
            << ", \"last_loss\": " << last_loss
            << ", \"cuda_graph\": " << (graph && graph->replays() > 0 ? "true" : "false") << machine_fields(backend)
            << (profiler ? ", \"profiled\": true" : "") << "}\n";
  if (profiler) print_op_profile(profiler->entries(), b.steps, 1e3 * seconds / static_cast<double>(b.steps));
}

}  // namespace

int run_bench(const Args& args) {
  const CommandSpec spec{"bench", "Measure training throughput on synthetic data and print JSON.",
                         "cbednet bench --device cpu --arch resnet18 --size 128 --batch 16"};
  auto options = bench_options();
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  for (const char* name : {"batch", "steps"}) require_positive(*vm, name);
  const long batch = (*vm)["batch"].as<long>();
  const long steps = (*vm)["steps"].as<long>();
  if ((*vm)["network"].as<bool>()) return run_network_bench(steps);
  const long warmup = std::max(0L, (*vm)["warmup"].as<long>());
  const auto seed = (*vm)["seed"].as<unsigned long>();
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const ParallelChoice parallel = parallel_options_from(*vm, ranks);
  check_bench_options(*vm, parallel);

  const BackendOptions backend_options = backend_options_from(*vm);
  auto device_backend = make_backend(backend_options);
  Model model = build_resnet(model_spec_from(*vm));
  if (parallel.grid_given) return run_grid_bench(*vm, parallel, *device_backend, model, backend_options.precision);
  if ((*vm)["block-times"].as<bool>()) {
    print_block_times(*device_backend, model, batch, seed, static_cast<int>(steps), backend_options.precision);
    return 0;
  }
  std::unique_ptr<ProfilingBackend> profiler;
  if ((*vm)["profile-ops"].as<bool>()) profiler = std::make_unique<ProfilingBackend>(*device_backend);
  Backend* backend = profiler ? profiler.get() : device_backend.get();
  const bool cuda_graph = (*vm)["cuda-graph"].as<std::string>() == "on";
  if ((*vm)["mode"].as<std::string>() == "infer") {
    run_infer_bench(*backend, profiler.get(), model,
                    {batch, steps, warmup, seed, backend_options.precision,
                     (*vm)["fold-batch-norm"].as<std::string>() == "on", cuda_graph});
  } else {
    run_train_bench(*backend, profiler.get(), model,
                    {batch, steps, warmup, seed, parallel, backend_options, cuda_graph, (*vm)["quiet"].as<bool>()});
  }
  return 0;
}

}  // namespace cbednet::app
