#include "core/optim/sgd.hpp"

namespace cbednet {

// One backend operation for the whole store (one kernel launch on a GPU): the decay per parameter comes from the
// store's segments (is_decayed), and each element is updated exactly as by a per-parameter sgd_update.
void SgdOptimizer::update(ParamStore& store, double lr, double grad_scale) {
  const SgdUpdate update{lr, config_.momentum, config_.weight_decay, config_.nesterov, grad_scale};
  store.backend().sgd_update_segments(store.master(), store.grad(), store.momentum(), store.decay_segments(), update);
}

}  // namespace cbednet
