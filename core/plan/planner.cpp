#include "core/plan/planner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/batch_split.hpp"
#include "core/error.hpp"

namespace cbednet::plan {

double transfer_seconds(const Link& link, double bytes) {
  if (bytes <= 0.0) return 0.0;
  return link.latency_s + bytes / link.bytes_per_s;
}

double allreduce_seconds(const Link& link, double bytes, int ranks, double bucket_bytes) {
  CBEDNET_REQUIRE(ranks >= 1, InvalidArgument, "allreduce over ", ranks, " ranks");
  CBEDNET_REQUIRE(bucket_bytes > 0.0, InvalidArgument, "allreduce bucket size must be positive, got ", bucket_bytes);
  if (ranks == 1 || bytes <= 0.0) return 0.0;
  const double buckets = std::ceil(bytes / bucket_bytes);
  const double r = ranks;
  return buckets * 2.0 * (r - 1.0) * link.latency_s + 2.0 * (r - 1.0) / r * bytes / link.bytes_per_s;
}

double allreduce_seconds(const AllreduceFit& fit, double bytes, double bucket_bytes) {
  CBEDNET_REQUIRE(bucket_bytes > 0.0, InvalidArgument, "allreduce bucket size must be positive, got ", bucket_bytes);
  if (fit.ranks <= 1 || bytes <= 0.0) return 0.0;
  return std::ceil(bytes / bucket_bytes) * fit.fixed_s + bytes / fit.bytes_per_s;
}

double bubble_fraction(int stages, std::int64_t micro_batches) {
  CBEDNET_REQUIRE(stages >= 1 && micro_batches >= 1, InvalidArgument, "bubble of ", stages, " stages and ",
                  micro_batches, " micro-batches");
  return static_cast<double>(stages - 1) / static_cast<double>(micro_batches + stages - 1);
}

std::int64_t stashed_micro_batches(int stages, int stage, std::int64_t micro_batches) {
  CBEDNET_REQUIRE(stage >= 0 && stage < stages, InvalidArgument, "stage ", stage, " of ", stages);
  return std::min<std::int64_t>(stages - stage, micro_batches);
}

std::vector<std::size_t> partition_min_max(const std::vector<double>& cost, int parts) {
  const std::size_t n = cost.size();
  CBEDNET_REQUIRE(parts >= 1 && static_cast<std::size_t>(parts) <= n, InvalidArgument, "cannot split ", n,
                  " blocks into ", parts, " pipeline stages");
  std::vector<double> prefix(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + cost[i];
  const auto k_max = static_cast<std::size_t>(parts);
  constexpr double inf = std::numeric_limits<double>::infinity();
  // best[k][j]: smallest possible largest range when blocks [0, j) form k ranges; start[k][j]: where the last begins.
  std::vector<std::vector<double>> best(k_max + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<std::size_t>> start(k_max + 1, std::vector<std::size_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (std::size_t k = 1; k <= k_max; ++k) {
    for (std::size_t j = k; j <= n; ++j) {
      for (std::size_t i = k - 1; i < j; ++i) {
        if (best[k - 1][i] == inf) continue;
        const double v = std::max(best[k - 1][i], prefix[j] - prefix[i]);
        // Ties go to the later cut, which keeps early (large-activation) stages short.
        if (v <= best[k][j]) {
          best[k][j] = v;
          start[k][j] = i;
        }
      }
    }
  }
  std::vector<std::size_t> firsts(k_max);
  std::size_t j = n;
  for (std::size_t k = k_max; k >= 1; --k) {
    firsts[k - 1] = start[k][j];
    j = start[k][j];
  }
  return firsts;
}

bool grid_is_usable(const Cluster& cluster, int stages, std::size_t blocks) {
  const int g = cluster.gpus_per_node;
  if (stages < 1 || static_cast<std::size_t>(stages) > blocks || cluster.total() % stages != 0) return false;
  return stages <= g ? g % stages == 0 : stages % g == 0;
}

namespace {

bool same_node(int rank_a, int rank_b, int gpus_per_node) { return rank_a / gpus_per_node == rank_b / gpus_per_node; }

// The allreduce time a stage's step waits for after its last backward pass, with the trainer's overlap
// (core/parallel/grad_reducer.hpp): whole blocks form buckets in backward order, a bucket closing once it holds
// bucket_bytes; each starts when its earliest block's backward (backward_time) is done and after the previous
// bucket, one at a time. Returns how far the last one ends past the end of the backward pass. Without overlap
// (Device::allreduce_overlaps_backward false) every bucket follows the backward pass.
template <typename Cost>
double exposed_allreduce_seconds(const std::vector<BlockInfo>& blocks, const std::vector<double>& backward_time,
                                 std::size_t first, std::size_t last, double gradient_bytes, double bucket_bytes,
                                 bool overlaps, const Cost& cost) {
  double backward = 0.0, comm_free = 0.0, open_bytes = 0.0;
  for (std::size_t b = last; b-- > first;) {
    if (overlaps) backward += backward_time[b];
    open_bytes += static_cast<double>(blocks[b].cost.parameters) * gradient_bytes;
    const bool closes = open_bytes >= bucket_bytes || (b == first && open_bytes > 0.0);
    if (!closes) continue;
    comm_free = std::max(comm_free, backward) + cost(open_bytes);
    open_bytes = 0.0;
  }
  return std::max(0.0, comm_free - backward);
}

// Seconds of one micro-batch of m samples per block, forward + backward (+ the recomputed forward), and the
// backward pass's part (with the recomputed forward); and the weights the trainer's --balance cuts stages by.
struct BlockTimes {
  std::vector<double> total, backward, partition_weight;
};

BlockTimes block_times(const std::vector<BlockInfo>& blocks, const Device& device, double m, bool recompute) {
  const std::size_t n = blocks.size();
  BlockTimes t{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n)};
  const bool measured = !device.measured_forward_s.empty();
  if (measured) {
    CBEDNET_REQUIRE(device.measured_forward_s.size() == n && device.measured_backward_s.size() == n &&
                        device.measured_micro_batch >= 1,
                    InvalidArgument, "measured block times: ", device.measured_forward_s.size(), " forward and ",
                    device.measured_backward_s.size(), " backward for a model of ", n, " blocks at micro-batch ",
                    device.measured_micro_batch);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double flop_per_mac = recompute ? 8.0 : 6.0;  // forward 2, backward 4, the recomputed forward 2
    const double macs = static_cast<double>(blocks[i].cost.forward_macs);
    const double modelled = flop_per_mac * macs * m / device.train_flop_per_s + device.block_overhead_s;
    if (measured) {
      const double scale = m / static_cast<double>(device.measured_micro_batch);
      // A recomputed forward runs in the backward pass.
      t.backward[i] = (device.measured_backward_s[i] + (recompute ? device.measured_forward_s[i] : 0.0)) * scale;
      t.total[i] = device.measured_forward_s[i] * scale + t.backward[i];
      // The trainer's --balance macs weighs each block by its MACs (recomputation: 4 of 3 parts).
      t.partition_weight[i] = device.balance_by_time ? t.total[i] : macs * flop_per_mac;
    } else {
      t.total[i] = modelled;
      t.backward[i] = modelled * (flop_per_mac - 2.0) / flop_per_mac;  // all but the forward's 2 FLOPs per MAC
      t.partition_weight[i] = modelled;
    }
  }
  return t;
}

// Sends of stage s per micro-batch of m samples: its output forward (to s + 1), its input gradient backward (to s - 1).
double stage_transfer_seconds(const std::vector<BlockInfo>& blocks, const Cluster& cluster, const Device& device,
                              const StagePlan& st, int s, int stages, double m) {
  double seconds = 0.0;
  if (s + 1 < stages) {
    const double bytes =
        static_cast<double>(blocks[st.last_block - 1].cost.output_elements) * m * device.activation_bytes;
    seconds += transfer_seconds(same_node(s, s + 1, cluster.gpus_per_node) ? cluster.intra : cluster.inter, bytes);
  }
  if (s > 0) {
    const double bytes = static_cast<double>(blocks[st.first_block].input.per_sample()) * m * device.activation_bytes;
    seconds += transfer_seconds(same_node(s - 1, s, cluster.gpus_per_node) ? cluster.intra : cluster.inter, bytes);
  }
  return seconds;
}

}  // namespace

Prediction predict(const std::vector<BlockInfo>& blocks, const Cluster& cluster, const Device& device, int stages,
                   std::int64_t global_batch, std::int64_t micro_batch, double bucket_bytes, bool recompute) {
  CBEDNET_REQUIRE(cluster.nodes >= 1 && cluster.gpus_per_node >= 1, InvalidArgument, "cluster of ", cluster.nodes,
                  " node(s) x ", cluster.gpus_per_node, " GPU(s)");
  const int total = cluster.total();
  CBEDNET_REQUIRE(stages >= 1 && total % stages == 0, InvalidArgument, "P = ", stages, " does not divide the ", total,
                  " GPUs");
  CBEDNET_REQUIRE(static_cast<std::size_t>(stages) <= blocks.size(), InvalidArgument, "P = ", stages, " exceeds the ",
                  blocks.size(), " blocks of the model");
  const int replicas = total / stages;
  CBEDNET_REQUIRE(micro_batch >= 1, InvalidArgument, "micro-batch ", micro_batch, ": must be at least 1");
  const std::int64_t share = split_batch(global_batch, replicas, micro_batch, stages).share;

  Prediction p;
  p.stages = stages;
  p.replicas = replicas;
  p.global_batch = global_batch;
  p.micro_batch = micro_batch;
  p.micro_batches = share / micro_batch;
  p.bubble = bubble_fraction(stages, p.micro_batches);

  const auto m = static_cast<double>(micro_batch);
  const BlockTimes times = block_times(blocks, device, m, recompute);
  const std::vector<double>& block_time = times.total;
  const auto firsts = partition_min_max(times.partition_weight, stages);
  // The replicas of one stage (ranks s, P + s, ...) share a node only when the whole grid is one node.
  const bool reduce_inside_node = total <= cluster.gpus_per_node;
  const Link& reduce_link = reduce_inside_node ? cluster.intra : cluster.inter;

  p.fits = true;
  for (int s = 0; s < stages; ++s) {
    StagePlan st;
    st.first_block = firsts[static_cast<std::size_t>(s)];
    st.last_block = s + 1 < stages ? firsts[static_cast<std::size_t>(s) + 1] : blocks.size();
    double saved_elements = 0.0;
    for (std::size_t i = st.first_block; i < st.last_block; ++i) {
      st.compute_s += block_time[i];
      st.parameters += blocks[i].cost.parameters;
      saved_elements += static_cast<double>(recompute ? blocks[i].input.per_sample() : blocks[i].cost.saved_elements);
    }
    st.transfer_s = stage_transfer_seconds(blocks, cluster, device, st, s, stages, m);
    const bool measured = !reduce_inside_node && cluster.inter_allreduce && cluster.inter_allreduce->ranks == replicas;
    // One bucket's cost (its bytes never exceed a bucket by more than one block's, so no further split).
    const auto bucket_cost = [&](double bytes) {
      return measured ? allreduce_seconds(*cluster.inter_allreduce, bytes, std::max(bytes, bucket_bytes))
                      : allreduce_seconds(reduce_link, bytes, replicas, std::max(bytes, bucket_bytes));
    };
    st.allreduce_s = replicas == 1 ? 0.0
                                   : exposed_allreduce_seconds(blocks, times.backward, st.first_block, st.last_block,
                                                               device.gradient_bytes, bucket_bytes,
                                                               device.allreduce_overlaps_backward, bucket_cost);
    st.stashed = stashed_micro_batches(stages, s, p.micro_batches);
    st.memory_bytes = static_cast<double>(st.parameters) * device.state_bytes_per_parameter +
                      static_cast<double>(st.stashed) * m * saved_elements * device.activation_bytes +
                      device.workspace_bytes;
    p.slot_s = std::max(p.slot_s, st.compute_s + st.transfer_s);
    p.allreduce_s = std::max(p.allreduce_s, st.allreduce_s);
    p.memory_bytes = std::max(p.memory_bytes, st.memory_bytes);
    p.stage.push_back(st);
  }
  p.fits = p.memory_bytes <= device.memory_bytes * device.usable_fraction;
  // 1F1B: the slowest stage runs all M micro-batches back to back; every other stage adds its one micro-batch of
  // fill (forward) and drain (backward). (M + P - 1) slots when the stages are balanced; for unbalanced ones this is
  // what the 3-node pipeline measured (docs/cluster.md), where (M + P - 1) x the slowest stage was 15 % high.
  double all_stages = 0.0;
  for (const auto& st : p.stage) all_stages += st.compute_s + st.transfer_s;
  p.pipeline_s = static_cast<double>(p.micro_batches - 1) * p.slot_s + all_stages;
  p.step_s = p.pipeline_s + p.allreduce_s;
  p.images_per_s = static_cast<double>(global_batch) / p.step_s;
  return p;
}

std::vector<Prediction> plan_all(const std::vector<BlockInfo>& blocks, const Cluster& cluster, const Device& device,
                                 std::int64_t global_batch, double bucket_bytes, bool recompute) {
  std::vector<Prediction> out;
  const int total = cluster.total();
  for (int stages = 1; stages <= total; ++stages) {
    if (!grid_is_usable(cluster, stages, blocks.size())) continue;
    const int replicas = total / stages;
    if (global_batch < replicas || global_batch % replicas != 0) continue;
    const std::int64_t share = global_batch / replicas;
    for (std::int64_t micro = 1; micro <= share; ++micro) {
      if (share % micro != 0) continue;
      auto p = predict(blocks, cluster, device, stages, global_batch, micro, bucket_bytes, recompute);
      if (p.fits) out.push_back(std::move(p));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Prediction& a, const Prediction& b) { return a.images_per_s > b.images_per_s; });
  return out;
}

std::vector<Prediction> best_per_stage_count(const std::vector<Prediction>& all) {
  std::vector<Prediction> out;
  std::map<int, bool> seen;
  for (const auto& p : all) {
    if (seen[p.stages]) continue;
    seen[p.stages] = true;
    out.push_back(p);
  }
  return out;
}

}  // namespace cbednet::plan
