#include "core/optim/sgd.hpp"

namespace cbednet {

void SgdOptimizer::update(ParamStore& store, double lr, double grad_scale) {
  Backend& backend = store.backend();
  for (auto& p : store.params()) {
    const SgdUpdate update{lr, config_.momentum, is_decayed(p.kind) ? config_.weight_decay : 0.0, config_.nesterov,
                           grad_scale};
    backend.sgd_update(p.master, p.grad, p.momentum, update);
  }
}

}  // namespace cbednet
