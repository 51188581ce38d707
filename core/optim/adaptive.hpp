// The adaptive rules behind the Optimizer interface (optimizer.hpp), on host fp64 copies of the flat buffers
// (host_copy.hpp), so they run on every backend without device kernels. g below is grad_scale * gradient (loss
// scale and global-norm clipping already applied); t is the step number (1 on the first); "decayed" parameters are
// conv and linear weights (is_decayed): only they take weight decay and a trust ratio, never batch-norm parameters
// or biases (You et al.'s LARS and LAMB recipes).
//
//   AdamW (Loshchilov & Hutter; PyTorch's AdamW):  w -= lr wd w (decayed);  m = b1 m + (1 - b1) g;
//          v = b2 v + (1 - b2) g^2;  w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//   LARS (You, Gitman & Ginsburg 2017; MLPerf's form, the learning rate inside the momentum):
//          decayed: trust = eta |w| / (|g| + wd |w|) (1 when |w| or |g| is 0), u = g + wd w; else trust = 1, u = g
//          v = momentum v + lr trust u;  w -= v
//   LAMB (You et al. 2019, Algorithm 2 with bias correction):  m, v as AdamW;
//          r = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd w (decayed);
//          trust = |w| / |r| for decayed tensors (1 when either is 0), else 1;  w -= lr trust r
// |x| is the 2-norm over one parameter tensor (a tensor never spans two pipeline stages, and the gradients are
// already summed over replicas, so no communication is needed). The first moment lives in the store's momentum
// buffer, the second in its second_moment buffer.
#pragma once

#include "core/optim/optimizer.hpp"

namespace cbednet {

class AdamWOptimizer final : public Optimizer {
 public:
  explicit AdamWOptimizer(const OptimizerConfig& config);
  OptimizerKind kind() const override { return OptimizerKind::adamw; }

 protected:
  bool needs_second_moment() const override { return true; }
  void update(ParamStore& store, double lr, double grad_scale) override;

 private:
  OptimizerConfig config_;
};

class LarsOptimizer final : public Optimizer {
 public:
  explicit LarsOptimizer(const OptimizerConfig& config);
  OptimizerKind kind() const override { return OptimizerKind::lars; }

 protected:
  void update(ParamStore& store, double lr, double grad_scale) override;

 private:
  OptimizerConfig config_;
};

class LambOptimizer final : public Optimizer {
 public:
  explicit LambOptimizer(const OptimizerConfig& config);
  OptimizerKind kind() const override { return OptimizerKind::lamb; }

 protected:
  bool needs_second_moment() const override { return true; }
  void update(ParamStore& store, double lr, double grad_scale) override;

 private:
  OptimizerConfig config_;
};

}  // namespace cbednet
