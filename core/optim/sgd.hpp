// SGD with momentum (optionally Nesterov) over a ParamStore; weight decay only on conv and linear weights
// (not on batch-norm parameters or biases). The state is the flat momentum buffer and the step counter.
#pragma once

#include <cstdint>

#include "core/model/param_store.hpp"

namespace cbednet {

struct SgdConfig {
  double momentum = 0.9;
  double weight_decay = 5e-5;
  bool nesterov = false;
};

class SgdOptimizer {
 public:
  explicit SgdOptimizer(SgdConfig config) : config_(config) {}
  // One update of every parameter with learning rate lr; grad_scale multiplies the gradients first
  // (1 / loss scale for fp16). Refreshes compute-dtype weight copies afterwards.
  void step(ParamStore& store, double lr, double grad_scale = 1.0);
  std::int64_t steps_taken() const { return steps_; }
  void set_steps_taken(std::int64_t steps) { steps_ = steps; }
  const SgdConfig& config() const { return config_; }

 private:
  SgdConfig config_;
  std::int64_t steps_ = 0;
};

}  // namespace cbednet
