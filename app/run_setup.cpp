#include "app/run_setup.hpp"

#include "io/sim/space_group_table.hpp"

namespace cbednet::app {

po::options_description data_options() {
  po::options_description o("Data");
  // clang-format off
  o.add_options()
    ("log-scale", po::bool_switch(), "apply max(ln I, -17) + 17, times 10 (SMC sources; packed files store it)")
    ("downsample", po::value<int>()->default_value(1), "area downsampling factor 1, 2 or 4 (SMC sources)")
    ("views", po::value<std::string>()->default_value("stack"),
     "stack: the 3 projections as 3 channels; random: one random projection per sample in training, the "
     "average over the three in evaluation")
    ("skip-bad", po::bool_switch(), "skip (and count) unreadable or non-finite samples instead of failing")
    ("io-threads", po::value<int>()->default_value(-1),
     "packed files: 0 reads through collective HDF5; N >= 1 reads sample chunks directly with N threads per rank "
     "(independent pread, no HDF5 per read); -1: 1 on a single data-parallel rank, else 0");
  // clang-format on
  return o;
}

io::Preprocess preprocess_from(const po::variables_map& vm) {
  io::Preprocess p;
  p.log_scale = vm["log-scale"].as<bool>();
  p.downsample = vm["downsample"].as<int>();
  if (p.downsample != 1 && p.downsample != 2 && p.downsample != 4)
    throw_error<InvalidArgument>("--downsample: expected 1, 2 or 4, got ", p.downsample);
  parse_views(vm["views"].as<std::string>());
  return p;
}

po::options_description backend_options() {
  po::options_description o("Device");
  // clang-format off
  o.add_options()
    ("device", po::value<std::string>()->default_value("cpu"), "cpu, cpu-reference (fp64 loops) or cuda")
    ("precision", po::value<std::string>()->default_value("fp32"), "fp64, fp32, tf32, bf16 or fp16")
    ("threads", po::value<int>()->default_value(0), "CPU threads per rank (0: OMP_NUM_THREADS or all cores)")
    ("nondeterministic", po::bool_switch(), "cuda: allow cuDNN's non-deterministic convolution algorithms (faster "
                                            "weight gradients; runs then differ in the last bits)")
    ("conv-api", po::value<std::string>()->default_value("auto"),
     "cuda: convolutions through cuDNN's legacy API, its graph API (cudnn-frontend; a shape it refuses runs on "
     "legacy), or auto (legacy until a GPU run has shown graph correct and faster); no effect on CPU devices");
  // clang-format on
  return o;
}

BackendOptions backend_options_from(const po::variables_map& vm) {
  BackendOptions b;
  b.device = vm["device"].as<std::string>();
  b.precision = vm["precision"].as<std::string>();
  b.threads = vm["threads"].as<int>();
  b.deterministic = !vm["nondeterministic"].as<bool>();
  b.conv_api = vm["conv-api"].as<std::string>();
  if (b.conv_api != "legacy" && b.conv_api != "graph" && b.conv_api != "auto")
    throw_error<InvalidArgument>("--conv-api: expected legacy, graph or auto, got '", b.conv_api, "'");
  if (b.threads < 0) throw_error<InvalidArgument>("--threads: must not be negative, got ", b.threads);
  return b;
}

io::LoaderOptions evaluation_loader_options(const io::Preprocess& preprocess, const std::string& split,
                                            std::size_t batch, int ranks, bool skip_bad) {
  io::LoaderOptions o;
  const auto r = static_cast<std::size_t>(ranks);
  o.global_batch = std::max<std::size_t>(r, (batch + r - 1) / r * r);
  o.shuffle = false;
  o.drop_last = false;
  o.prefetch = true;
  o.skip_bad = skip_bad;
  o.split = split;
  o.preprocess = preprocess;
  return o;
}

std::vector<int> class_to_crystal_system(int classes) {
  std::vector<int> out;
  if (classes != 230) return out;
  for (int c = 0; c < classes; ++c) out.push_back(io::sim::crystal_system_index(c + 1));
  return out;
}

std::vector<int> class_to_point_group(int classes) {
  std::vector<int> out;
  if (classes != 230) return out;
  for (int c = 0; c < classes; ++c) out.push_back(io::sim::point_group_index(c + 1));
  return out;
}

MetricsAccumulator metrics_for(int classes) {
  return MetricsAccumulator(classes, class_to_crystal_system(classes), class_to_point_group(classes));
}

po::options_description parallel_options() {
  po::options_description o("Parallelism");
  // clang-format off
  o.add_options()
    ("grid", po::value<std::string>(), "PxD: P pipeline stages x D data-parallel replicas (default 1x<ranks>)")
    ("micro-batch-size", po::value<long>()->default_value(0), "micro-batch size (0: a replica's whole share)")
    ("schedule", po::value<std::string>()->default_value("1f1b"), "pipeline schedule: 1f1b or gpipe")
    ("balance", po::value<std::string>()->default_value("macs"), "pipeline stage balancing: macs or time (measured)")
    ("bucket-mb", po::value<double>()->default_value(25.0), "gradient allreduce bucket size in MB")
    ("transport", po::value<std::string>()->default_value("auto"),
     "pipeline and gradient traffic: auto (NCCL when every rank owns a GPU), mpi or nccl")
    ("recompute", po::value<std::string>()->default_value("none"),
     "activation recomputation: none, or blocks (keep block inputs only; rerun each block's forward in backward)")
    ("fused-batch-norm", po::value<std::string>()->default_value("off"),
     "on: residual blocks train through the fused batch-norm operations (statistics out of each convolution, "
     "normalisation and ReLU inside the next; the same results to rounding, about half the saved activations)");
  // clang-format on
  return o;
}

ParallelChoice parallel_options_from(const po::variables_map& vm, int ranks) {
  ParallelChoice c;
  c.replicas = ranks;
  if (vm.count("grid") != 0U) {
    const GridShape shape = parse_grid(vm["grid"].as<std::string>());
    c.stages = shape.stages;
    c.replicas = shape.replicas;
    c.grid_given = true;
  }
  c.micro_batch = vm["micro-batch-size"].as<long>();
  CBEDNET_REQUIRE(c.micro_batch >= 0, InvalidArgument, "--micro-batch-size: must not be negative");
  c.hybrid.schedule = parse_schedule(vm["schedule"].as<std::string>());
  c.hybrid.balance = parse_balance(vm["balance"].as<std::string>());
  const double bucket_mb = vm["bucket-mb"].as<double>();
  CBEDNET_REQUIRE(bucket_mb > 0, InvalidArgument, "--bucket-mb: must be positive, got ", bucket_mb);
  c.hybrid.bucket_bytes = static_cast<std::int64_t>(bucket_mb * 1024 * 1024);
  c.hybrid.transport = parse_transport(vm["transport"].as<std::string>());
  c.hybrid.recompute = parse_recompute(vm["recompute"].as<std::string>());
  const std::string fused = vm["fused-batch-norm"].as<std::string>();
  CBEDNET_REQUIRE(fused == "on" || fused == "off", InvalidArgument, "--fused-batch-norm: expected on or off, got '",
                  fused, "'");
  c.hybrid.fused_batch_norm = fused == "on";
  return c;
}

}  // namespace cbednet::app
