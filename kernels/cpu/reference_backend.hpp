// ReferenceBackend: the fp64 oracle. Plain loops that follow the definitions in kernels/backend.hpp, one
// operation per function, every element addressed through Tensor::index so that NCHW and NHWC tensors (in any
// mix) give the same results. Slow on purpose: clarity over speed; other backends are tested against it.
#pragma once

#include "kernels/backend.hpp"

namespace cbednet {

class ReferenceBackend final : public Backend {
 public:
  ReferenceBackend() = default;

  std::string name() const override { return "cpu-reference"; }
  Device device() const override { return Device::host; }
  DType dtype() const override { return DType::f64; }
  DType param_dtype() const override { return DType::f64; }
  Layout layout() const override { return Layout::nchw; }
  // fp64 everywhere, on the host, in any mix of layouts (every element is addressed through Tensor::index).
  TensorRules rules() const override { return {DType::f64, DType::f64, Device::host, true, "cpu-reference"}; }

#include "kernels/cpu/backend_overrides.inc"
};

}  // namespace cbednet
