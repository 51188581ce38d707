// cbednet plan: predicted step time and images/s of every P x D grid and micro-batch size on a cluster, from the
// model's per-block costs (core/plan/planner.hpp; the model is derived in docs/planner.md).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app/model_options.hpp"
#include "app/mpi_session.hpp"
#include "app/subcommands.hpp"
#include "core/error.hpp"
#include "core/plan/calibration.hpp"
#include "core/plan/planner.hpp"

namespace cbednet::app {

namespace {

constexpr double gib = 1024.0 * 1024.0 * 1024.0;

std::string prediction_json(const plan::Prediction& p) {
  std::ostringstream o;
  o << "{\"P\": " << p.stages << ", \"D\": " << p.replicas << ", \"micro_batch\": " << p.micro_batch
    << ", \"micro_batches\": " << p.micro_batches << ", \"bubble\": " << p.bubble << ", \"step_ms\": " << p.step_s * 1e3
    << ", \"pipeline_ms\": " << p.pipeline_s * 1e3 << ", \"allreduce_ms\": " << p.allreduce_s * 1e3
    << ", \"images_per_s\": " << p.images_per_s << ", \"memory_gib\": " << p.memory_bytes / gib << ", \"stages\": [";
  for (std::size_t s = 0; s < p.stage.size(); ++s) {
    o << (s ? ", " : "") << "[" << p.stage[s].first_block << ", " << p.stage[s].last_block << "]";
  }
  o << "]}";
  return o.str();
}

void print_row(const plan::Prediction& p, double single_gpu_images_per_s, int gpus) {
  const double efficiency = p.images_per_s / (single_gpu_images_per_s * gpus);
  std::printf("%5d x %-5d %6ld %5ld %7.1f%% %10.2f %10.2f %12.0f %8.1f%% %9.1f\n", p.stages, p.replicas,
              static_cast<long>(p.micro_batch), static_cast<long>(p.micro_batches), 100.0 * p.bubble, p.step_s * 1e3,
              p.allreduce_s * 1e3, p.images_per_s, 100.0 * efficiency, p.memory_bytes / gib);
}

std::string read_text(const std::string& path, const char* option) {
  std::ifstream in(path);
  CBEDNET_REQUIRE(in.good(), InvalidArgument, option, " ", path, ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

po::options_description cluster_options() {
  po::options_description cluster("Cluster and device");
  // clang-format off
  cluster.add_options()
    ("nodes", po::value<int>()->default_value(1), "nodes")
    ("gpus-per-node", po::value<int>()->default_value(8), "GPUs (ranks) per node")
    ("batch", po::value<long>()->required(), "global batch size (all replicas together)")
    ("memory-gib", po::value<double>()->default_value(80.0), "memory per GPU, GiB")
    ("link-intra-gbps", po::value<double>()->default_value(2880.0),
     "bandwidth between GPUs of a node, Gbit/s (default: NVLink 4, 360 GB/s effective)")
    ("link-inter-gbps", po::value<double>()->default_value(400.0),
     "bandwidth between nodes per GPU, Gbit/s (default: one NDR InfiniBand NIC per GPU)")
    ("latency-us", po::value<double>()->default_value(5.0), "latency of one message between nodes, microseconds")
    ("latency-intra-us", po::value<double>()->default_value(2.0), "latency of one message inside a node, microseconds")
    ("tflops", po::value<double>()->default_value(106.9),
     "effective training rate, TFLOP/s on 6 x forward MACs (default: H100 bf16, PyTorch-eager level)")
    ("block-overhead-us", po::value<double>()->default_value(300.0),
     "fixed time per block and micro-batch (forward + backward), microseconds")
    ("bucket-mib", po::value<double>()->default_value(25.0), "allreduce bucket size, MiB")
    ("activation-bytes", po::value<double>()->default_value(2.0), "bytes per saved activation (2: bf16, 4: fp32)")
    ("recompute", po::value<std::string>()->default_value("none"),
     "none, or blocks: keep only block inputs (memory) and run every forward twice (time)")
    ("costs", po::value<std::string>(), "calibrate the device rate from a `cbednet bench` JSON line in this file")
    ("block-times", po::value<std::string>(),
     "take every block's forward and backward time from a `cbednet bench --block-times` line in this file "
     "(replaces the MAC model; scaled linearly to other micro-batches)")
    ("balance", po::value<std::string>()->default_value("macs"),
     "how the trainer cuts stages (its --balance): macs, or time (by the --block-times)")
    ("transport", po::value<std::string>()->default_value("auto"),
     "the data-parallel transport: nccl (allreduce overlaps the backward pass), mpi (it does not: it advances "
     "only between blocks), auto (mpi when --costs or --block-times were measured on a CPU)")
    ("calibrate-network", po::value<std::string>(),
     "take the link between nodes (latency, bandwidth) from a `cbednet bench --network` output file "
     "(replaces --link-inter-gbps and --latency-us)")
    ("top", po::value<int>()->default_value(5), "also list this many best configurations overall")
    ("json", po::bool_switch(), "print JSON (best, best per P, top) instead of tables");
  // clang-format on
  return cluster;
}

void check_cluster_options(const po::variables_map& v) {
  for (const char* name : {"nodes", "gpus-per-node"}) require_positive(v, name);
  for (const char* name :
       {"memory-gib", "link-intra-gbps", "link-inter-gbps", "tflops", "bucket-mib", "activation-bytes"}) {
    CBEDNET_REQUIRE(v[name].as<double>() > 0.0, InvalidArgument, "--", name, ": must be positive, got ",
                    v[name].as<double>());
  }
  for (const char* name : {"latency-us", "latency-intra-us", "block-overhead-us"}) {
    CBEDNET_REQUIRE(v[name].as<double>() >= 0.0, InvalidArgument, "--", name, ": must not be negative, got ",
                    v[name].as<double>());
  }
  CBEDNET_REQUIRE(v["batch"].as<long>() > 0, InvalidArgument, "--batch: must be positive, got ", v["batch"].as<long>());
}

// The nodes and their links; `network` says where the link between nodes came from.
plan::Cluster cluster_from(const po::variables_map& v, std::string& network) {
  plan::Cluster cl;
  cl.nodes = v["nodes"].as<int>();
  cl.gpus_per_node = v["gpus-per-node"].as<int>();
  cl.intra = {v["latency-intra-us"].as<double>() * 1e-6, v["link-intra-gbps"].as<double>() * 1e9 / 8.0};
  cl.inter = {v["latency-us"].as<double>() * 1e-6, v["link-inter-gbps"].as<double>() * 1e9 / 8.0};
  network = "link between nodes as given";
  if (v.count("calibrate-network") != 0U) {
    const auto path = v["calibrate-network"].as<std::string>();
    const auto text = read_text(path, "--calibrate-network");
    cl.inter = plan::parse_network_link(text, "--calibrate-network " + path);
    cl.inter_allreduce = plan::parse_allreduce_fit(text, "--calibrate-network " + path);
    network = "link between nodes calibrated on " + path;
  }
  return cl;
}

void warn_if_other_model(const char* option, const std::string& arch, std::int64_t size, const Model& model) {
  if (arch.empty() || (arch == model.spec().arch && size == model.spec().input_size)) return;
  std::cerr << "cbednet plan: warning: " << option << " measured " << arch << " at " << size << ", planning "
            << model.spec().arch << " at " << model.spec().input_size << "\n";
}

// The device's costs: the MAC model, or measured block times, calibrated by a bench line; `calibration` says which.
plan::Device device_from(const po::variables_map& v, const Model& model, std::string& calibration) {
  plan::Device dev;
  dev.memory_bytes = v["memory-gib"].as<double>() * gib;
  dev.train_flop_per_s = v["tflops"].as<double>() * 1e12;
  dev.block_overhead_s = v["block-overhead-us"].as<double>() * 1e-6;
  dev.activation_bytes = v["activation-bytes"].as<double>();
  calibration = "default rate";
  std::string measured_on;  // the device of --costs or --block-times ("cpu", "cuda"), if they say
  if (v.count("block-times") != 0U) {
    const auto path = v["block-times"].as<std::string>();
    const auto blocks = plan::parse_block_times(read_text(path, "--block-times"), "--block-times " + path);
    CBEDNET_REQUIRE(blocks.forward_s.size() == model.size(), InvalidArgument, "--block-times ", path, ": ",
                    blocks.forward_s.size(), " blocks measured (", blocks.arch, " at ", blocks.size, "), ",
                    model.spec().arch, " at ", model.spec().input_size, " has ", model.size());
    warn_if_other_model("--block-times", blocks.arch, blocks.size, model);
    dev.measured_forward_s = blocks.forward_s;
    dev.measured_backward_s = blocks.backward_s;
    dev.measured_micro_batch = blocks.micro_batch;
    if (!blocks.device.empty()) measured_on = blocks.device;
    calibration = "block times from " + path;
  }
  if (v.count("costs") != 0U) {
    const auto path = v["costs"].as<std::string>();
    const auto text = read_text(path, "--costs");
    const auto point = plan::parse_bench_line(text, "--costs " + path);
    measured_on = plan::json_string(text, "device").value_or(measured_on);
    warn_if_other_model("--costs", point.arch, point.size, model);
    dev = plan::calibrate(dev, model.info(), point);
    calibration = dev.measured_forward_s.empty() ? "calibrated on " + path : calibration + ", scaled to " + path;
  }
  const std::string balance = v["balance"].as<std::string>();
  CBEDNET_REQUIRE(balance == "macs" || balance == "time", InvalidArgument, "--balance: expected macs or time, got '",
                  balance, "'");
  dev.balance_by_time = balance == "time";
  const std::string transport = v["transport"].as<std::string>();
  CBEDNET_REQUIRE(transport == "auto" || transport == "mpi" || transport == "nccl", InvalidArgument,
                  "--transport: expected auto, mpi or nccl, got '", transport, "'");
  dev.allreduce_overlaps_backward = transport == "nccl" || (transport == "auto" && measured_on != "cpu");
  return dev;
}

// What the plan found: every candidate (best first), the best per pipeline depth, and the one-GPU reference.
struct PlanOutcome {
  const Model& model;
  const plan::Cluster& cluster;
  const plan::Device& device;
  long batch;
  std::vector<plan::Prediction> all, per_p;
  std::int64_t per_gpu;
  double single_ips;
  int top;
};

void print_plan_json(const PlanOutcome& r, const std::string& balance) {
  const auto& cl = r.cluster;
  std::cout << "{\"arch\": \"" << r.model.spec().arch << "\", \"size\": " << r.model.spec().input_size
            << ", \"nodes\": " << cl.nodes << ", \"gpus_per_node\": " << cl.gpus_per_node << ", \"batch\": " << r.batch
            << ", \"tflops\": " << r.device.train_flop_per_s / 1e12
            << ", \"block_times\": " << (r.device.measured_forward_s.empty() ? "false" : "true") << ", \"balance\": \""
            << balance
            << "\", \"allreduce_overlaps_backward\": " << (r.device.allreduce_overlaps_backward ? "true" : "false")
            << ", \"inter_latency_us\": " << cl.inter.latency_s * 1e6
            << ", \"inter_gbps\": " << cl.inter.bytes_per_s * 8.0 / 1e9;
  if (cl.inter_allreduce) {
    std::cout << ", \"allreduce_fit\": {\"ranks\": " << cl.inter_allreduce->ranks
              << ", \"fixed_us\": " << cl.inter_allreduce->fixed_s * 1e6
              << ", \"gbps\": " << cl.inter_allreduce->bytes_per_s * 8.0 / 1e9 << "}";
  }
  std::cout << ", \"single_gpu_images_per_s\": " << r.single_ips << ", \"best\": " << prediction_json(r.all.front())
            << ", \"per_stage_count\": [";
  for (std::size_t i = 0; i < r.per_p.size(); ++i) std::cout << (i ? ", " : "") << prediction_json(r.per_p[i]);
  std::cout << "], \"top\": [";
  for (std::size_t i = 0; i < r.all.size() && i < static_cast<std::size_t>(r.top); ++i) {
    std::cout << (i ? ", " : "") << prediction_json(r.all[i]);
  }
  std::cout << "], \"candidates\": " << r.all.size() << "}\n";
}

void print_plan_tables(const PlanOutcome& r, const std::string& calibration, const std::string& network) {
  const auto& cl = r.cluster;
  std::printf("%s @%ld, global batch %ld on %d node(s) x %d GPU(s); %.1f TFLOP/s effective (%s), %.0f GiB/GPU\n",
              r.model.spec().arch.c_str(), static_cast<long>(r.model.spec().input_size), r.batch, cl.nodes,
              cl.gpus_per_node, r.device.train_flop_per_s / 1e12, calibration.c_str(), r.device.memory_bytes / gib);
  std::printf("%s: %.1f us, %.2f Gbit/s\n", network.c_str(), cl.inter.latency_s * 1e6,
              cl.inter.bytes_per_s * 8.0 / 1e9);
  if (cl.inter_allreduce) {
    std::printf("measured allreduce over %d ranks: %.1f us per bucket + %.2f Gbit/s (replaces the ring formula)\n",
                cl.inter_allreduce->ranks, cl.inter_allreduce->fixed_s * 1e6,
                cl.inter_allreduce->bytes_per_s * 8.0 / 1e9);
  }
  std::printf("one GPU at batch %ld: %.0f images/s (efficiency reference)\n\n", static_cast<long>(r.per_gpu),
              r.single_ips);
  std::printf("%13s %6s %5s %8s %10s %10s %12s %9s %9s\n", "P x D", "micro", "M", "bubble", "step ms", "allred ms",
              "images/s", "effic.", "GiB/GPU");
  std::printf("best per pipeline depth P:\n");
  for (const auto& p : r.per_p) print_row(p, r.single_ips, cl.total());
  if (r.top > 0) {
    std::printf("best %d overall:\n", r.top);
    for (std::size_t i = 0; i < r.all.size() && i < static_cast<std::size_t>(r.top); ++i)
      print_row(r.all[i], r.single_ips, cl.total());
  }
  const auto& b = r.all.front();
  std::printf("\nbest: --grid %dx%d --micro-batch-size %ld  (%.0f images/s, step %.1f ms, stages", b.stages, b.replicas,
              static_cast<long>(b.micro_batch), b.images_per_s, b.step_s * 1e3);
  for (const auto& s : b.stage) {
    std::printf(" %s..%s", r.model.info()[s.first_block].name.c_str(), r.model.info()[s.last_block - 1].name.c_str());
  }
  std::printf(")\n");
}

}  // namespace

int run_plan(const Args& args) {
  const CommandSpec spec{
      "plan", "Predict step time and images/s for every P x D grid and micro-batch size on N nodes; print the best.",
      "cbednet plan --nodes N --gpus-per-node G --arch resnet50 --size 512 --batch B [--memory-gib M]\n"
      "             [--link-intra-gbps X --link-inter-gbps Y --latency-us L] [--costs BENCH.json] [--json]"};
  auto options = model_options(512);
  options.add(cluster_options());
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  const auto& v = *vm;
  check_cluster_options(v);
  const long batch = v["batch"].as<long>();
  const Model model = build_resnet(model_spec_from(v));
  std::string network, calibration;
  const plan::Cluster cl = cluster_from(v, network);
  const plan::Device dev = device_from(v, model, calibration);
  const double bucket = v["bucket-mib"].as<double>() * 1024.0 * 1024.0;
  const std::string recompute_mode = v["recompute"].as<std::string>();
  CBEDNET_REQUIRE(recompute_mode == "none" || recompute_mode == "blocks", InvalidArgument,
                  "--recompute: expected none or blocks (auto is chosen per run by train), got '", recompute_mode, "'");
  const bool recompute = recompute_mode == "blocks";

  PlanOutcome r{model, cl, dev, batch, plan::plan_all(model.info(), cl, dev, batch, bucket, recompute), {}, 0, 0.0, 0};
  if (world_rank() != 0) return 0;
  CBEDNET_REQUIRE(!r.all.empty(), InvalidArgument, "cbednet plan: no P x D grid and micro-batch of --batch ", batch,
                  " on ", cl.nodes, " x ", cl.gpus_per_node, " GPUs fits ", v["memory-gib"].as<double>(),
                  " GiB per GPU (or D divides no batch split); try a larger batch multiple or more memory");
  // Reference for efficiency: one GPU with the best micro-batch for the same per-GPU share of the batch.
  plan::Cluster one = cl;
  one.nodes = 1;
  one.gpus_per_node = 1;
  r.per_gpu = std::max<std::int64_t>(1, batch / cl.total());
  const auto single = plan::plan_all(model.info(), one, dev, r.per_gpu, bucket, recompute);
  r.single_ips = single.empty() ? 0.0 : single.front().images_per_s;
  r.per_p = plan::best_per_stage_count(r.all);
  r.top = std::max(0, v["top"].as<int>());
  if (v["json"].as<bool>())
    print_plan_json(r, v["balance"].as<std::string>());
  else
    print_plan_tables(r, calibration, network);
  return 0;
}

}  // namespace cbednet::app
