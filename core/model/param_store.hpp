// ParamStore: the parameters, gradients, optimizer state and buffers of a range of blocks, each in ONE
// contiguous buffer on the backend's device (llm.c's malloc_and_point_parameters). Layers get views.
//
// Flat buffers (E = total parameter elements, each parameter aligned to 64 elements):
//   master [E]      param_dtype()   what the optimizer updates and checkpoints hold
//   grad   [E]      param_dtype()   gradients, in the same order: bucketed allreduce = slices of it
//   momentum [E]    param_dtype()   SGD/LARS momentum, AdamW/LAMB first moment
//   second_moment [E], ema [E]      param_dtype(): only when an optimizer asks (enable_second_moment: AdamW/LAMB;
//                                   enable_ema: --ema-decay), both checkpointed
//   compute [E], compute_grad [E]   dtype(): only when dtype() != param_dtype() (bf16/fp16 on GPUs); conv and
//                                   linear weights run from these copies, refreshed after every update
//   buffers         param_dtype()   batch-norm running statistics (checkpointed)
//   accumulators    param_dtype()   per-step batch-norm statistic sums (allreduced once per step)
//
// Initialisation draws element e of parameter `name` from RandomStream(seed, init, hash(name)) at e, so it
// does not depend on how the model is cut into stages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/block.hpp"
#include "core/named_tensors.hpp"

namespace cbednet {

class BatchNorm;

struct ParamEntry {
  std::string name;  // "layer1.0.conv1.weight"
  ParamKind kind;
  Shape shape;
  std::int64_t offset = 0;        // in elements, within the flat buffers
  Tensor master, grad, momentum;  // views (param dtype)
  Tensor second_moment, ema;      // views (param dtype); empty until enabled
  Tensor compute, compute_grad;   // views in compute dtype (aliases of master/grad when dtypes agree)
};

struct BufferEntry {
  std::string name;  // "layer1.0.bn1.running_mean"
  Shape shape;
  Tensor value;  // view
};

class ParamStore {
 public:
  // Binds every layer of `blocks` to views of freshly allocated flat buffers and initialises them from seed.
  ParamStore(Backend& backend, const std::vector<Block*>& blocks, std::uint64_t seed);
  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;

  std::vector<ParamEntry>& params() { return params_; }
  const std::vector<ParamEntry>& params() const { return params_; }
  std::vector<BufferEntry>& buffers() { return buffers_; }
  const std::vector<BufferEntry>& buffers() const { return buffers_; }
  std::int64_t parameter_count() const;
  // Every parameter as a segment of the flat buffers (decayed: is_decayed(kind)), runs of adjacent parameters of
  // equal decay merged: what Backend::sgd_update_segments takes to update the whole store at once.
  const std::vector<FlatSegment>& decay_segments() const { return decay_segments_; }

  Tensor& master() { return master_; }
  Tensor& grad() { return grad_; }
  Tensor& momentum() { return momentum_; }
  // Optional optimizer state, allocated on first request (idempotent): zero second moments; an EMA that starts as
  // a copy of the current weights.
  void enable_second_moment();
  void enable_ema();
  bool has_second_moment() const { return !second_moment_.empty(); }
  bool has_ema() const { return !ema_.empty(); }
  Tensor& second_moment() { return second_moment_; }
  Tensor& ema() { return ema_; }
  // Exchanges the weights and their moving average (bit-exact; a second call undoes it) and refreshes the
  // compute-precision copies: evaluation with the averaged weights (AveragedWeights below). No-op without an EMA.
  void swap_weights_and_ema();
  Tensor& accumulators() { return accumulators_; }  // batch-norm statistic sums
  Tensor& buffer_storage() { return buffer_storage_; }

  void zero_grad();
  // After backward: copies compute-dtype gradients into the master gradients (one copy_segments over the flat
  // buffers; no-op when dtypes agree, and
  // done once per step: a second call before zero_grad() does nothing, so a reduction of the master gradients
  // between the two is kept).
  void gather_compute_grads();
  // The same for the parameters that start in [begin, end) of the flat buffers (a gradient bucket), so that a
  // bucket's reduction can start before the whole backward pass has ended; those are then skipped by the
  // whole-store call until zero_grad().
  void gather_compute_grads(std::int64_t begin, std::int64_t end);
  // After an update: copies master weights into their compute-dtype copies (no-op when dtypes agree), one
  // copy_segments over the flat buffers.
  void refresh_compute_weights();
  // Batch-norm running statistics from the accumulated micro-batch statistics of one step, and the accumulators
  // cleared. The running statistics and the accumulators have the same layout in their flat buffers (every BatchNorm
  // has running mean and variance, then step sums of the same two), so this is one Backend::fold_running_statistics
  // over the flat buffers, whatever the number of layers: each element gets what BatchNorm's own update gives it.
  void update_running_statistics(double momentum, double micro_batches);
  // Forgets the step's accumulated batch-norm statistics (a skipped step).
  void discard_step_statistics() { backend_.fill(accumulators_, 0.0); }

  Backend& backend() { return backend_; }

 private:
  Backend& backend_;
  bool mixed_ = false;
  bool grads_gathered_ = false;
  bool flat_statistics_ = true;       // buffer_storage_ and accumulators_ pair up element by element (see above)
  std::vector<char> param_gathered_;  // per entry of params_, for the ranged gather
  Tensor master_, grad_, momentum_, second_moment_, ema_, compute_, compute_grad_, buffer_storage_, accumulators_;
  std::vector<ParamEntry> params_;
  std::vector<BufferEntry> buffers_;
  std::vector<BatchNorm*> batchnorms_;
  std::vector<FlatSegment> decay_segments_;    // every parameter
  std::vector<FlatSegment> compute_segments_;  // parameters with compute-dtype copies (mixed precision only)
};

// While alive, the store's weights are its moving average (--ema-decay), for evaluation; the training weights come
// back when it ends. Nothing changes for a store without an average. The batch-norm running statistics are the
// training run's (they are not averaged).
class AveragedWeights {
 public:
  explicit AveragedWeights(ParamStore& store) : store_(store) { store_.swap_weights_and_ema(); }
  ~AveragedWeights() { store_.swap_weights_and_ema(); }
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;

 private:
  ParamStore& store_;
};

std::uint64_t stable_hash(const std::string& text);  // FNV-1a 64

// Checkpoints (io/checkpoint) hold tensors by name, not stores; these two move a store's state in and out.
//
// Host copies of the store's parameters (master dtype), momentum, batch-norm buffers and, when enabled, second
// moments and weight average, by name.
ModelTensors collect_tensors(ParamStore& store);
// Copies `tensors` into the store (converted to its dtypes) and refreshes the compute-precision copies. A store
// holding part of the model (a pipeline stage) takes its own tensors by name and ignores the rest. Every tensor the
// store needs is checked before anything is copied: one missing, or of another shape, throws IoError naming it and
// `source` (the checkpoint file): "file <source>, group parameters/<name>: missing (...)". The optional state the
// store has enabled (second moments, EMA) must be there too; state the store has not enabled is ignored.
void assign_tensors(ParamStore& store, const ModelTensors& tensors, const std::string& source);

}  // namespace cbednet
