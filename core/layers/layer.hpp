// Layer: a named operation with parameters, calling one Backend.
//
// Layers keep no per-call state: what a backward pass needs (inputs, outputs, batch statistics) is returned by
// forward and handed back by the caller, so that a pipeline stage can keep several micro-batches in flight.
// Each concrete layer has explicit forward/backward functions (different layers take different inputs); this
// base only describes parameters for the model's flat buffers and costs for the pipeline partitioner.
//
// Parameter gradients always accumulate (GradMode::accumulate): the model zeroes them once per step, and every
// micro-batch adds its share. Activation gradients are returned fresh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "kernels/backend.hpp"

namespace cbednet {

enum class Mode : std::uint8_t { train, eval };

// What a parameter is: decides its initialisation, whether weight decay applies, and its precision.
enum class ParamKind : std::uint8_t {
  conv_weight,    // [K,C,R,S]  Kaiming normal (fan_out, ReLU gain), decayed, compute dtype
  linear_weight,  // [K,C,1,1]  U(-1/sqrt(C), 1/sqrt(C)), decayed, compute dtype
  linear_bias,    // [1,K,1,1]  U(-1/sqrt(C), 1/sqrt(C)), not decayed, compute dtype
  conv_bias,      // [1,K,1,1]  zero, not decayed, compute dtype
  bn_gamma,       // [1,C,1,1]  one (zero for a residual branch's last BN when asked), not decayed, param dtype
  bn_beta,        // [1,C,1,1]  zero, not decayed, param dtype
};
bool is_decayed(ParamKind kind);
bool in_compute_dtype(ParamKind kind);  // conv/linear weights and biases run in the backend's compute dtype

struct ParamSpec {
  std::string name;  // within the layer: "weight", "bias", "gamma", "beta"
  Shape shape;
  ParamKind kind;
  std::int64_t fan_in = 0;  // for initialisation
  std::int64_t fan_out = 0;
  bool zero_init = false;  // bn_gamma of a residual branch's last BN with --zero-init-residual
};

// Non-trained state (batch-norm running statistics): checkpointed, not optimised.
struct BufferSpec {
  std::string name;  // "running_mean", "running_var"
  Shape shape;
  double initial_value = 0.0;
  // Per-step accumulator (batch-norm statistic sums): kept apart from the checkpointed state, allreduced per step.
  bool step_accumulator = false;
};

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  // Output shape for an input shape; throws ShapeError naming this layer if the input does not fit.
  virtual Shape output_shape(const Shape& in) const = 0;
  virtual std::vector<ParamSpec> param_specs() const { return {}; }
  virtual std::vector<BufferSpec> buffer_specs() const { return {}; }
  // Multiply-accumulates of one forward pass over the whole input shape (batch included).
  virtual std::int64_t forward_macs(const Shape& /*in*/) const { return 0; }
  std::int64_t parameter_count() const;

  // Called by the model once its flat buffers exist: views in the order of param_specs()/buffer_specs().
  void bind(std::vector<Tensor> params, std::vector<Tensor> grads, std::vector<Tensor> buffers);
  bool bound() const { return !params_.empty() || param_specs().empty(); }

 protected:
  // Throws ShapeError "layer <name>: <what>: expected .., got .." when shape differs.
  void require_input(const Tensor& t, const Shape& expected, const char* what) const;
  [[noreturn]] void fail_shape(const std::string& message) const;

  std::vector<Tensor> params_;   // bound views, order of param_specs()
  std::vector<Tensor> grads_;    // same order
  std::vector<Tensor> buffers_;  // order of buffer_specs()

 private:
  std::string name_;
};

}  // namespace cbednet
