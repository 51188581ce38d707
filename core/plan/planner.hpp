// Cluster planner: predicts the training step time of every P x D grid (P pipeline stages, D data-parallel
// replicas, one rank per GPU) and micro-batch size from the model's per-block costs, a device throughput model
// and a latency + bandwidth link model. Pure functions, no I/O; docs/planner.md derives and calibrates the model.
//
// Rank layout (as the job scripts start it): rank r = d * P + s holds stage s of replica d, so a pipeline's
// stages are consecutive ranks and stay inside a node when P divides the GPUs per node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model/model.hpp"

namespace cbednet::plan {

struct Link {
  double latency_s = 0.0;
  double bytes_per_s = 1.0;
};

// Latency + size / bandwidth.
double transfer_seconds(const Link& link, double bytes);

// Ring allreduce of `bytes` over `ranks` ranks, in buckets of at most `bucket_bytes`: each bucket costs
// 2 (r - 1) latencies, and every rank sends and receives 2 (r - 1) / r of the data. 0 for one rank.
double allreduce_seconds(const Link& link, double bytes, int ranks, double bucket_bytes);

// 1F1B (and GPipe) idle share of a step: (P - 1) / (M + P - 1).
double bubble_fraction(int stages, std::int64_t micro_batches);

// Micro-batches whose activations stage s (0-based) holds at once under 1F1B: min(P - s, M).
std::int64_t stashed_micro_batches(int stages, int stage, std::int64_t micro_batches);

// Contiguous split of `cost` into `parts` non-empty ranges minimising the largest range sum (exact dynamic
// program). Returns the first index of each range (size parts, front() == 0). Throws InvalidArgument when
// parts is not in [1, cost.size()].
std::vector<std::size_t> partition_min_max(const std::vector<double>& cost, int parts);

// A measured allreduce between nodes: time = fixed + bytes / bytes_per_s per bucket, over `ranks` ranks (fitted
// to `cbednet bench --network` by calibration.hpp). The MPI library picks its own algorithm (Open MPI 4.1 does
// not run a ring for 3 ranks), so a measured collective replaces the ring formula where the rank count matches.
struct AllreduceFit {
  int ranks = 0;
  double fixed_s = 0.0;
  double bytes_per_s = 1.0;
};

struct Cluster {
  int nodes = 1;
  int gpus_per_node = 1;
  Link intra;                                   // between GPUs of a node (NVLink)
  Link inter;                                   // between nodes, per GPU (InfiniBand; one NIC per GPU)
  std::optional<AllreduceFit> inter_allreduce;  // measured allreduce between nodes, if calibrated
  int total() const { return nodes * gpus_per_node; }
};

// Allreduce of `bytes` in buckets of at most `bucket_bytes` with a measured fit (fixed cost per bucket).
double allreduce_seconds(const AllreduceFit& fit, double bytes, double bucket_bytes);

// What one GPU does with one block. Defaults: an H100 in bf16, calibrated on PyTorch eager ResNet-50 at 512^2
// (780 img/s at batch 64, 732 img/s at batch 32; docs/planner.md).
struct Device {
  double train_flop_per_s = 106.9e12;  // effective rate on 6 x forward MACs per sample (forward + backward)
  double block_overhead_s = 0.30e-3;   // per block and micro-batch (launches, small kernels), forward + backward
  double memory_bytes = 80.0 * (1ULL << 30);
  double usable_fraction = 0.90;                // of memory_bytes, the rest for the allocator and the CUDA context
  double workspace_bytes = 2.0 * (1ULL << 30);  // convolution workspaces, transfer buffers
  double activation_bytes = 2.0;                // per saved element (bf16)
  double state_bytes_per_parameter = 14.0;      // fp32 weight, gradient, momentum + bf16 copy
  double gradient_bytes = 4.0;                  // per parameter in the allreduce (fp32 gradients)
  // Measured per-block forward and backward seconds of one micro-batch of measured_micro_batch samples (`cbednet
  // bench --block-times`). When set they replace the MAC model above for every block, scaled linearly in the
  // micro-batch: a MAC count does not say how fast a CPU runs a layer (late blocks with a few pixels and many
  // channels run at half the rate of early ones there; docs/cluster.md).
  std::vector<double> measured_forward_s, measured_backward_s;
  std::int64_t measured_micro_batch = 0;
  // The trainer's --balance: false cuts stages by the MAC model (macs), true by the block times (time).
  bool balance_by_time = false;
  // Whether a bucket's allreduce runs during the remaining backward pass. NCCL's does (its own stream); the MPI
  // transport's non-blocking allreduce advances only inside MPI calls, i.e. between blocks, which measured as no
  // overlap at all (1x3 on 3 nodes; docs/cluster.md): then the whole allreduce follows the backward pass.
  bool allreduce_overlaps_backward = true;
};

struct StagePlan {
  std::size_t first_block = 0, last_block = 0;  // [first, last)
  std::int64_t parameters = 0;
  double compute_s = 0.0;    // one micro-batch, forward + backward
  double transfer_s = 0.0;   // its sends per micro-batch (activation forward, gradient backward)
  double allreduce_s = 0.0;  // its gradients over the D replicas: the part not hidden behind its last backward
  std::int64_t stashed = 0;  // micro-batches held at once
  double memory_bytes = 0.0;
};

struct Prediction {
  int stages = 1, replicas = 1;
  std::int64_t global_batch = 0, micro_batch = 0, micro_batches = 0;
  std::vector<StagePlan> stage;
  double slot_s = 0.0;       // slowest stage: compute + transfers of one micro-batch
  double pipeline_s = 0.0;   // (M - 1) slowest slots + one slot of every stage; (M + P - 1) slots if balanced
  double allreduce_s = 0.0;  // slowest stage's allreduce past its last backward (buckets overlap the backward)
  double step_s = 0.0;
  double images_per_s = 0.0;
  double bubble = 0.0;
  double memory_bytes = 0.0;  // the fullest GPU
  bool fits = false;
};

// Predicts one configuration. Throws InvalidArgument naming the value when P does not divide the cluster,
// D does not divide the batch, the micro-batch does not divide a replica's share, or P exceeds the blocks.
// recompute (--recompute blocks): a stage keeps only its blocks' inputs per stashed micro-batch, and every block
// runs its forward twice (8 instead of 6 FLOPs per MAC per sample), which the stage balancing sees too.
Prediction predict(const std::vector<BlockInfo>& blocks, const Cluster& cluster, const Device& device, int stages,
                   std::int64_t global_batch, std::int64_t micro_batch, double bucket_bytes, bool recompute = false);

// Pipelines must not straddle nodes partially: P divides the GPUs per node, or is a multiple of them.
bool grid_is_usable(const Cluster& cluster, int stages, std::size_t blocks);

// Every usable P, every micro-batch size dividing a replica's share, that fits memory; best images/s first.
// Empty when nothing fits or no grid divides the batch.
std::vector<Prediction> plan_all(const std::vector<BlockInfo>& blocks, const Cluster& cluster, const Device& device,
                                 std::int64_t global_batch, double bucket_bytes, bool recompute = false);

// The best prediction for each P (same order as plan_all: best first).
std::vector<Prediction> best_per_stage_count(const std::vector<Prediction>& all);

}  // namespace cbednet::plan
