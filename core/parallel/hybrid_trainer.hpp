// HybridTrainer: one training step of P x D hybrid parallelism (pipeline stages x data-parallel replicas).
//
// Each rank holds one Stage (a contiguous block range, balanced by balance.hpp) of replica d's pipeline.
// Replica d trains on its share [B/D samples] of the global batch B: samples [d*B/D, (d+1)*B/D). Stage 0 of
// each replica gets the images and labels (only those D ranks read data); it sends the labels to the last
// stage once per step; activations go forward and gradients come back per micro-batch through the pipeline's
// Transport (transport.hpp: non-blocking MPI with host staging, or NCCL on device buffers). The order of forwards and
// backwards is schedule.hpp's 1F1B or GPipe. The last stage computes the softmax cross-entropy with dlogits
// scaled by 1/B and dropout/sample keys at the micro-batch's global position, exactly as
// core/model/train_step.cpp does, so every grid gives the serial result for the same micro-batch size.
// After the final backward each stage sums its gradients and batch-norm statistic sums over its D replicas
// (grad_reducer.hpp, bucketed and overlapped with that backward), folds the statistics of all B/m
// micro-batches into the running averages, and takes the SGD step.
//
// Errors: configuration mismatches between ranks are detected collectively at construction; option errors
// of step() are checked identically on every rank before any communication. An exception on one rank in
// the middle of a step leaves its peers waiting: the application's top level must call MPI_Abort (app/main.cpp
// does); nothing here catches errors.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model/train_step.hpp"
#include "core/parallel/balance.hpp"
#include "core/parallel/grad_reducer.hpp"
#include "core/parallel/grid.hpp"
#include "core/parallel/schedule.hpp"
#include "core/parallel/schedule_run.hpp"
#include "core/parallel/transport.hpp"

namespace cbednet {

struct HybridOptions {
  PipelineSchedule schedule = PipelineSchedule::one_f_one_b;
  BalanceBy balance = BalanceBy::macs;
  std::int64_t balance_micro_batch = 1;                    // micro-batch size timed by BalanceBy::time
  std::int64_t bucket_bytes = 25ll * 1024 * 1024;          // --bucket-mb
  std::vector<std::size_t> cuts;                           // explicit P+1 block cuts (overrides balance) when not empty
  TransportChoice transport = TransportChoice::automatic;  // --transport
  Stage::Recompute recompute = Stage::Recompute::none;     // --recompute
  bool fused_batch_norm = false;                           // --fused-batch-norm (Stage::set_fused_batch_norm)
  // --recompute auto: which blocks a candidate stage would recompute, so that the balancer counts them (the caller
  // still sets the chosen blocks on its stage). Unset: the cuts ignore recomputation.
  RecomputeChooser recompute_for{};
};

class HybridTrainer {
 public:
  // Collective over grid.world(). `model` must be this rank's own copy (its layers are bound to this rank's
  // stage). seed initialises parameters exactly as the serial Stage does.
  HybridTrainer(Backend& backend, Model& model, const Grid& grid, std::uint64_t seed, HybridOptions options = {});

  Stage& stage() { return *stage_; }
  const Grid& grid() const { return grid_; }
  const Partition& partition() const { return partition_; }
  bool reads_data() const { return grid_.first_stage(); }  // stage 0 ranks take images and labels

  // One step on a global batch of `global_batch` samples, collective over the world. On stage-0 ranks,
  // images: host f32/f64 [B/D,C,H,W] and labels: host i32 [B/D,1,1,1] are replica d's share (global samples
  // [d*B/D, (d+1)*B/D)); other ranks pass nullptr. options.micro_batch (0: the whole share) must divide B/D.
  // Returns the statistics of the whole global batch on every rank.
  StepStats step(SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Tensor* images, const Tensor* labels,
                 std::int64_t global_batch, const TrainStepOptions& options);

  // Evaluation-mode logits through the pipeline, collective over this replica's pipeline. Stage-0 ranks pass
  // host images [n,C,H,W] and get host f64 logits [n,K,1,1] back; other ranks pass nullptr and get an empty
  // tensor. Each replica evaluates its own images independently.
  Tensor predict_logits(const Tensor* images, std::int64_t chunk = 64);

  const StageTimings& timings() const { return timings_; }
  std::int64_t micro_batches_last_step() const { return last_m_; }
  std::size_t bucket_count() const { return reducer_->bucket_count(); }
  // What carries the pipeline's activations and the data-parallel reduction on this rank.
  TransportKind pipeline_transport() const { return pipe_transport_->kind(); }
  TransportKind reduce_transport() const { return reduce_transport_->kind(); }

 private:
  Backend& backend_;
  Model& model_;
  const Grid& grid_;
  HybridOptions options_;
  Partition partition_;
  std::unique_ptr<Stage> stage_;
  // Created once (NCCL communicators are expensive); declared before reducer_, which borrows one.
  std::unique_ptr<Transport> pipe_transport_, reduce_transport_;
  std::unique_ptr<GradReducer> reducer_;
  StageTimings timings_;
  std::int64_t last_m_ = 0;
};

// The block cuts every rank of `world` uses: options.cuts when given (checked), else the balancer's over MACs
// or over times measured on world rank 0 and broadcast, counting the forward that recomputed blocks run again
// (--recompute blocks: every block; auto: options.recompute_for's blocks). Collective over world.
Partition choose_partition(Backend& backend, Model& model, int stages, const HybridOptions& options, std::uint64_t seed,
                           MPI_Comm world);

}  // namespace cbednet
