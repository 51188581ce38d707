// Block: the unit a model is made of and a pipeline is cut between (stem, residual blocks, head).
//
// forward() in training mode returns a context owning everything backward() needs (inputs, batch statistics,
// masks); the caller keeps one context per micro-batch in flight and hands it back to backward().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/layers/layer.hpp"

namespace cbednet {

// Where a forward pass sits in training: for dropout masks and anything else keyed by (seed, step, sample).
struct PassInfo {
  Mode mode = Mode::train;
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
  std::int64_t first_sample = 0;  // global index of the micro-batch's first sample in the step's global batch
};

class BlockContext {
 public:
  virtual ~BlockContext() = default;
};

// Costs the pipeline partitioner balances, per sample.
struct BlockCost {
  std::int64_t parameters = 0;
  std::int64_t forward_macs = 0;
  std::int64_t saved_elements = 0;   // activations kept for backward
  std::int64_t output_elements = 0;  // what crosses to the next stage
};

class Block {
 public:
  explicit Block(std::string name) : name_(std::move(name)) {}
  virtual ~Block() = default;
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  const std::string& name() const { return name_; }
  virtual Shape output_shape(const Shape& in) const = 0;
  // Layers owning parameters or buffers, in a fixed order (the order of the flat parameter buffers).
  virtual std::vector<Layer*> layers() = 0;
  // Per-sample costs for input shape `in` (its n is ignored).
  virtual BlockCost cost(const Shape& in) const = 0;

  // Training (ctx receives the saved state) or evaluation (ctx may be null) forward.
  virtual Tensor forward(Backend& backend, const Tensor& x, const PassInfo& pass,
                         std::unique_ptr<BlockContext>* ctx) = 0;
  // Accumulates parameter gradients; returns dx when need_dx.
  virtual Tensor backward(Backend& backend, const Tensor& dy, BlockContext& ctx, bool need_dx) = 0;

  // Inference: folds every batch norm that follows a convolution into it (core/model/folded_conv.hpp); the
  // evaluation forward then runs the folded convolutions, until unfold_batch_norms(). Returns how many were folded:
  // 0 for blocks with none that can be (a pre-activation unit's batch norm comes before its ReLU and convolution).
  virtual int fold_batch_norms(Backend& /*backend*/) { return 0; }
  virtual void unfold_batch_norms() {}

  // Training: whether the forward and backward take the fused batch-norm path (Backend's "fused batch norm for
  // training": statistics out of the convolution before, normalisation inside the convolution after), which gives
  // the same results to rounding. Returns whether this block has such a path (false: it keeps its plain one).
  virtual bool set_fused_batch_norm(bool /*on*/) { return false; }

 private:
  std::string name_;
};

}  // namespace cbednet
