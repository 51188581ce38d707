// The optimizer interface: SGD (sgd.hpp), AdamW, LARS and LAMB (adaptive.hpp) are interchangeable behind it.
// What every optimizer shares lives here, around the rule-specific update:
//   1. compute-precision gradients gathered into the master gradients (mixed precision);
//   2. optional clipping by the global gradient norm: the norm over ALL parameters of the model, on every pipeline
//      stage and replica alike (the per-tensor sums of squares are combined by a SquareSumTotal the caller gives:
//      core/parallel gathers them over the pipeline, in model order, so every P x D grid gets the same norm);
//   3. the rule's update (weight decay only on conv and linear weights: is_decayed);
//   4. compute-precision weight copies refreshed;
//   5. optional exponential moving average of the weights (ema = decay ema + (1 - decay) w), kept in the store.
// docs/training.md has the formulas.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/model/param_store.hpp"

namespace cbednet {

enum class OptimizerKind { sgd, adamw, lars, lamb };
std::string to_string(OptimizerKind kind);
OptimizerKind parse_optimizer_kind(const std::string& text);  // InvalidArgument naming --optimizer

// Every optimizer option; each rule reads the ones it uses (docs/training.md).
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double momentum = 0.9;                          // SGD and LARS
  double weight_decay = 5e-5;                     // conv and linear weights only
  bool nesterov = false;                          // SGD
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // AdamW and LAMB
  double trust_coefficient = 0.001;               // LARS's eta
  double clip_grad_norm = 0;                      // 0: no clipping
  double ema_decay = 0;                           // 0: no moving average of the weights
  // Throws InvalidArgument naming the option (--beta1, --trust-coefficient, ...) when a value is out of range.
  void validate() const;
};

// Per-tensor sums of squares of one store's gradients (in the store's parameter order) -> the sum over the whole
// model. Empty: the store is the whole model (serial training), summed here in order.
using SquareSumTotal = std::function<double(const std::vector<double>&)>;

class Optimizer {
 public:
  Optimizer(double clip_grad_norm, double ema_decay);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual OptimizerKind kind() const = 0;
  // Allocates the state this optimizer keeps in `store` beyond the momentum buffer (second moments, the weight
  // average initialised to the current weights). Idempotent; step() calls it too. Call it before loading a
  // checkpoint into the store, so the store expects (and takes) that state.
  void prepare(ParamStore& store) const;
  // One update with learning rate lr; grad_scale multiplies the gradients first (1 / loss scale for fp16).
  void step(ParamStore& store, double lr, double grad_scale = 1.0, const SquareSumTotal& total = {});

  std::int64_t steps_taken() const { return steps_; }
  void set_steps_taken(std::int64_t steps) { steps_ = steps; }
  double clip_grad_norm() const { return clip_grad_norm_; }
  double ema_decay() const { return ema_decay_; }
  // The global gradient norm of the last step (after grad_scale, before clipping); NaN unless clipping is on.
  double last_grad_norm() const { return last_grad_norm_; }

 protected:
  virtual bool needs_second_moment() const { return false; }
  // The rule itself on the master weights; `grad_scale` already includes the clipping factor and steps_taken()
  // counts this step (1 on the first).
  virtual void update(ParamStore& store, double lr, double grad_scale) = 0;

 private:
  double clip_grad_norm_, ema_decay_;
  double last_grad_norm_;
  std::int64_t steps_ = 0;
};

// The optimizer config.kind names (config is validated first).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config);

// Per-tensor sums of squares of grad_scale * gradient, in the store's parameter order (fp64, element order).
std::vector<double> gradient_square_sums(ParamStore& store, double grad_scale);

}  // namespace cbednet
