#include "core/optim/adaptive.hpp"

#include <cmath>
#include <span>

#include "core/optim/host_copy.hpp"

namespace cbednet {

namespace {

// The store's flat buffers on the host in fp64 for one update; commit() copies back what the rule changed.
class HostState {
 public:
  HostState(ParamStore& store, bool second_moment)
      : store_(store),
        master_(host_f64_copy(store.backend(), store.master())),
        grad_(host_f64_copy(store.backend(), store.grad())),
        momentum_(host_f64_copy(store.backend(), store.momentum())),
        second_(second_moment ? host_f64_copy(store.backend(), store.second_moment()) : Tensor()) {}

  // One parameter's slices of the flat buffers.
  struct Slices {
    std::span<double> w;
    std::span<const double> grad;
    std::span<double> m, v;
  };
  Slices of(const ParamEntry& p) {
    const auto at = static_cast<std::size_t>(p.offset), n = static_cast<std::size_t>(p.shape.count());
    Slices s{master_.span<double>().subspan(at, n),
             grad_.span<double>().subspan(at, n),
             momentum_.span<double>().subspan(at, n),
             {}};
    if (!second_.empty()) s.v = second_.span<double>().subspan(at, n);
    return s;
  }

  void commit() {
    Backend& backend = store_.backend();
    backend.copy(master_, store_.master());
    backend.copy(momentum_, store_.momentum());
    if (!second_.empty()) backend.copy(second_, store_.second_moment());
  }

 private:
  ParamStore& store_;
  Tensor master_, grad_, momentum_, second_;
};

double norm(std::span<const double> x, double scale = 1.0) {
  double sum = 0;
  for (const double v : x) sum += (scale * v) * (scale * v);
  return std::sqrt(sum);
}

// The Adam moments of one tensor, updated in place; returns nothing, the caller reads m and v.
void update_moments(HostState::Slices& s, double grad_scale, double beta1, double beta2) {
  for (std::size_t i = 0; i < s.w.size(); ++i) {
    const double g = grad_scale * s.grad[i];
    s.m[i] = beta1 * s.m[i] + (1 - beta1) * g;
    s.v[i] = beta2 * s.v[i] + (1 - beta2) * g * g;
  }
}

}  // namespace

AdamWOptimizer::AdamWOptimizer(const OptimizerConfig& config)
    : Optimizer(config.clip_grad_norm, config.ema_decay), config_(config) {
  config_.validate();
}

void AdamWOptimizer::update(ParamStore& store, double lr, double grad_scale) {
  const auto t = static_cast<double>(steps_taken());
  const double c1 = 1 - std::pow(config_.beta1, t), c2 = 1 - std::pow(config_.beta2, t);
  HostState state(store, true);
  for (const auto& p : store.params()) {
    auto s = state.of(p);
    const double decay = is_decayed(p.kind) ? config_.weight_decay : 0.0;
    update_moments(s, grad_scale, config_.beta1, config_.beta2);
    for (std::size_t i = 0; i < s.w.size(); ++i) {
      s.w[i] *= 1 - lr * decay;
      s.w[i] -= lr * (s.m[i] / c1) / (std::sqrt(s.v[i] / c2) + config_.eps);
    }
  }
  state.commit();
}

LarsOptimizer::LarsOptimizer(const OptimizerConfig& config)
    : Optimizer(config.clip_grad_norm, config.ema_decay), config_(config) {
  config_.validate();
}

void LarsOptimizer::update(ParamStore& store, double lr, double grad_scale) {
  HostState state(store, false);
  for (const auto& p : store.params()) {
    auto s = state.of(p);
    const bool adapted = is_decayed(p.kind);
    const double decay = adapted ? config_.weight_decay : 0.0;
    double trust = 1;
    if (adapted) {
      const double w_norm = norm(s.w), g_norm = norm(s.grad, grad_scale);
      if (w_norm > 0 && g_norm > 0) trust = config_.trust_coefficient * w_norm / (g_norm + decay * w_norm);
    }
    const double scaled_lr = lr * trust;
    for (std::size_t i = 0; i < s.w.size(); ++i) {
      s.m[i] = config_.momentum * s.m[i] + scaled_lr * (grad_scale * s.grad[i] + decay * s.w[i]);
      s.w[i] -= s.m[i];
    }
  }
  state.commit();
}

LambOptimizer::LambOptimizer(const OptimizerConfig& config)
    : Optimizer(config.clip_grad_norm, config.ema_decay), config_(config) {
  config_.validate();
}

void LambOptimizer::update(ParamStore& store, double lr, double grad_scale) {
  const auto t = static_cast<double>(steps_taken());
  const double c1 = 1 - std::pow(config_.beta1, t), c2 = 1 - std::pow(config_.beta2, t);
  HostState state(store, true);
  std::vector<double> r;
  for (const auto& p : store.params()) {
    auto s = state.of(p);
    const bool adapted = is_decayed(p.kind);
    const double decay = adapted ? config_.weight_decay : 0.0;
    update_moments(s, grad_scale, config_.beta1, config_.beta2);
    r.resize(s.w.size());
    for (std::size_t i = 0; i < s.w.size(); ++i)
      r[i] = (s.m[i] / c1) / (std::sqrt(s.v[i] / c2) + config_.eps) + decay * s.w[i];
    double trust = 1;
    if (adapted) {
      const double w_norm = norm(s.w), r_norm = norm(r);
      if (w_norm > 0 && r_norm > 0) trust = w_norm / r_norm;
    }
    for (std::size_t i = 0; i < s.w.size(); ++i) s.w[i] -= lr * trust * r[i];
  }
  state.commit();
}

}  // namespace cbednet
