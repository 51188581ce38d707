// Spatial batch normalisation (Ioffe & Szegedy 2015) with an optional fused residual add and ReLU:
//   y = act( gamma * (x - mean) * invstd + beta [+ residual] )
//
// Training normalises with the micro-batch's statistics. Those statistics (mean, unbiased var) are also added to
// per-layer accumulators; once per step the model averages them over every micro-batch of the global batch
// (across ranks too) and updates the running averages:  running = (1 - momentum) running + momentum * average.
// So running statistics do not depend on how the batch is split (docs/architecture.md, "Batch norm").
#pragma once

#include "core/layers/layer.hpp"

namespace cbednet {

struct BatchNormSaved {
  Tensor mean;    // [1,C,1,1] param dtype
  Tensor var;     // [1,C,1,1] unbiased batch variance
  Tensor invstd;  // [1,C,1,1] 1 / sqrt(biased var + eps)
};

class BatchNorm final : public Layer {
 public:
  BatchNorm(std::string name, std::int64_t channels, Activation act, bool zero_init_gamma = false, double eps = 1e-5);

  Shape output_shape(const Shape& in) const override;
  std::vector<ParamSpec> param_specs() const override;
  std::vector<BufferSpec> buffer_specs() const override;

  struct TrainOutput {
    Tensor y;
    BatchNormSaved saved;
  };
  // Normalises with batch statistics and adds them to the step's accumulators.
  TrainOutput forward_train(Backend& backend, const Tensor& x, const Tensor* residual);
  Tensor forward_eval(Backend& backend, const Tensor& x, const Tensor* residual) const;

  struct Gradients {
    Tensor dx;
    Tensor dresidual;  // empty when the forward had no residual
  };
  // Accumulates dgamma and dbeta.
  Gradients backward(Backend& backend, const Tensor& x, const Tensor& y, const Tensor& dy, const BatchNormSaved& saved,
                     bool had_residual);

  // The fused path (Backend's "fused batch norm for training"): the statistics come from the sums of the convolution
  // before (Conv2d::forward_stats), and the normalisation runs inside the convolution after or in the block's end.
  struct Finalized {
    Tensor scale, bias;  // [1,C,1,1] param dtype: y = act(x * scale + bias [+ residual])
    BatchNormSaved saved;
  };
  // The micro-batch statistics from sums over `count` values per channel, added to the step's accumulators like
  // forward_train's.
  Finalized finalize(Backend& backend, const Tensor& sum, const Tensor& sqsum, std::int64_t count);
  // What a fused convolution needs of this batch norm (with ReLU) as its input transform; valid while `f` lives.
  NormRelu as_input(const Finalized& f) const;
  // y = act( x * scale + bias + residual' ), residual' the residual through `residual_norm` (a projection
  // shortcut's batch norm, no activation) when given, else the residual itself.
  Tensor apply(Backend& backend, const Tensor& x, const Finalized& f, const Tensor& residual,
               const Finalized* residual_norm) const;
  // This layer's gradient accumulators (what Conv2d::backward_norm_relu accumulates into).
  Tensor& dgamma() { return grads_.at(0); }
  Tensor& dbeta() { return grads_.at(1); }

  // running = (1 - momentum) running + momentum * accumulated / micro_batches; clears the accumulators.
  void update_running_statistics(Backend& backend, double momentum, double micro_batches);

  std::int64_t channels() const { return channels_; }
  Activation activation() const { return act_; }
  double eps() const { return eps_; }
  // The bound parameters and running statistics (param dtype): what folding into a convolution reads.
  const Tensor& gamma() const { return params_.at(0); }
  const Tensor& beta() const { return params_.at(1); }
  const Tensor& running_mean() const { return buffers_.at(0); }
  const Tensor& running_var() const { return buffers_.at(1); }

 private:
  std::int64_t channels_;
  Activation act_;
  bool zero_init_gamma_;
  double eps_;
};

}  // namespace cbednet
