#include "core/optim/optimizer.hpp"

#include <cmath>
#include <limits>

#include "core/optim/adaptive.hpp"
#include "core/optim/host_copy.hpp"
#include "core/optim/sgd.hpp"

namespace cbednet {

std::string to_string(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
      return "sgd";
    case OptimizerKind::adamw:
      return "adamw";
    case OptimizerKind::lars:
      return "lars";
    case OptimizerKind::lamb:
      return "lamb";
  }
  return "?";
}

OptimizerKind parse_optimizer_kind(const std::string& text) {
  for (const auto kind : {OptimizerKind::sgd, OptimizerKind::adamw, OptimizerKind::lars, OptimizerKind::lamb})
    if (text == to_string(kind)) return kind;
  throw_error<InvalidArgument>("--optimizer: expected sgd, adamw, lars or lamb, got '", text, "'");
}

void OptimizerConfig::validate() const {
  // Written so that NaN fails every check.
  CBEDNET_REQUIRE(momentum >= 0 && momentum < 1, InvalidArgument, "--momentum: must be in [0, 1), got ", momentum);
  CBEDNET_REQUIRE(weight_decay >= 0 && std::isfinite(weight_decay), InvalidArgument,
                  "--weight-decay: must not be negative, got ", weight_decay);
  CBEDNET_REQUIRE(beta1 >= 0 && beta1 < 1, InvalidArgument, "--beta1: must be in [0, 1), got ", beta1);
  CBEDNET_REQUIRE(beta2 >= 0 && beta2 < 1, InvalidArgument, "--beta2: must be in [0, 1), got ", beta2);
  CBEDNET_REQUIRE(eps > 0 && std::isfinite(eps), InvalidArgument, "--eps: must be positive, got ", eps);
  CBEDNET_REQUIRE(trust_coefficient > 0 && std::isfinite(trust_coefficient), InvalidArgument,
                  "--trust-coefficient: must be positive, got ", trust_coefficient);
  CBEDNET_REQUIRE(clip_grad_norm >= 0 && std::isfinite(clip_grad_norm), InvalidArgument,
                  "--clip-grad-norm: must be positive (0: no clipping), got ", clip_grad_norm);
  CBEDNET_REQUIRE(ema_decay >= 0 && ema_decay < 1, InvalidArgument,
                  "--ema-decay: must be in [0, 1) (0: no moving average), got ", ema_decay);
  CBEDNET_REQUIRE(!nesterov || kind == OptimizerKind::sgd, InvalidArgument,
                  "--nesterov: only for --optimizer sgd, not ", to_string(kind));
}

Optimizer::Optimizer(double clip_grad_norm, double ema_decay)
    : clip_grad_norm_(clip_grad_norm),
      ema_decay_(ema_decay),
      last_grad_norm_(std::numeric_limits<double>::quiet_NaN()) {}

void Optimizer::prepare(ParamStore& store) const {
  if (needs_second_moment()) store.enable_second_moment();
  if (ema_decay_ > 0) store.enable_ema();
}

std::vector<double> gradient_square_sums(ParamStore& store, double grad_scale) {
  store.gather_compute_grads();
  const Tensor grad = host_f64_copy(store.backend(), store.grad());
  const double* g = grad.data<double>();
  std::vector<double> sums;
  sums.reserve(store.params().size());
  for (const auto& p : store.params()) {
    double sum = 0;
    for (std::int64_t i = p.offset, end = p.offset + p.shape.count(); i < end; ++i)
      sum += (grad_scale * g[i]) * (grad_scale * g[i]);
    sums.push_back(sum);
  }
  return sums;
}

void Optimizer::step(ParamStore& store, double lr, double grad_scale, const SquareSumTotal& total) {
  prepare(store);
  store.gather_compute_grads();
  if (clip_grad_norm_ > 0) {
    const std::vector<double> sums = gradient_square_sums(store, grad_scale);
    double squares = 0;
    if (total) {
      squares = total(sums);
    } else {
      for (const double s : sums) squares += s;
    }
    last_grad_norm_ = std::sqrt(squares);
    // PyTorch's clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
    const double factor = clip_grad_norm_ / (last_grad_norm_ + 1e-6);
    if (factor < 1) grad_scale *= factor;
  }
  ++steps_;
  update(store, lr, grad_scale);
  store.refresh_compute_weights();
  if (ema_decay_ > 0) {
    Backend& backend = store.backend();
    backend.scale(store.ema(), ema_decay_);
    backend.axpy(1.0 - ema_decay_, store.master(), store.ema());
  }
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config) {
  config.validate();
  switch (config.kind) {
    case OptimizerKind::sgd:
      return std::make_unique<SgdOptimizer>(SgdConfig{config.momentum, config.weight_decay, config.nesterov},
                                            config.clip_grad_norm, config.ema_decay);
    case OptimizerKind::adamw:
      return std::make_unique<AdamWOptimizer>(config);
    case OptimizerKind::lars:
      return std::make_unique<LarsOptimizer>(config);
    case OptimizerKind::lamb:
      return std::make_unique<LambOptimizer>(config);
  }
  throw_error<InvalidArgument>("--optimizer: unknown kind");
}

}  // namespace cbednet
