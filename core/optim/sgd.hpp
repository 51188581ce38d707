// SGD with momentum (optionally Nesterov) over a ParamStore; weight decay only on conv and linear weights
// (not on batch-norm parameters or biases). The state is the flat momentum buffer and the step counter. The update
// is the backend's own operation over the flat buffers (Backend::sgd_update_segments), so it runs where the
// parameters live, in one call per store.
#pragma once

#include <cstdint>

#include "core/optim/optimizer.hpp"

namespace cbednet {

struct SgdConfig {
  double momentum = 0.9;
  double weight_decay = 5e-5;
  bool nesterov = false;
};

class SgdOptimizer final : public Optimizer {
 public:
  explicit SgdOptimizer(SgdConfig config, double clip_grad_norm = 0, double ema_decay = 0)
      : Optimizer(clip_grad_norm, ema_decay), config_(config) {}
  OptimizerKind kind() const override { return OptimizerKind::sgd; }
  const SgdConfig& config() const { return config_; }

 protected:
  void update(ParamStore& store, double lr, double grad_scale) override;

 private:
  SgdConfig config_;
};

}  // namespace cbednet
