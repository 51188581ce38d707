// CpuBackend<T>: the fast host backend in fp32 (T = float) or fp64 (T = double), NCHW only.
//
// Convolutions are im2col + OpenBLAS GEMM (1x1 stride-1 convolutions use the input directly), backward-data
// is GEMM + col2im, backward-filter im2col + GEMM; everything else is OpenMP loops over batch and channels.
// Every reduction has a fixed order (batch-norm statistics are summed per channel by one thread, in fp64), so
// results are bit-identical from run to run with the same thread count.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/backend.hpp"
#include "kernels/cpu/workspace.hpp"

namespace cbednet {

template <typename T>
class CpuBackend final : public Backend {
 public:
  // threads: 0 keeps OpenMP's default (OMP_NUM_THREADS); otherwise the count used by this backend's loops and
  // by OpenBLAS.
  explicit CpuBackend(int threads);

  std::string name() const override { return "cpu"; }
  Device device() const override { return Device::host; }
  DType dtype() const override { return dtype_of<T>(); }
  DType param_dtype() const override { return dtype_of<T>(); }
  Layout layout() const override { return Layout::nchw; }
  // T everywhere, on the host, NCHW only (the im2col and GEMM kernels index NCHW memory directly).
  TensorRules rules() const override { return {dtype_of<T>(), dtype_of<T>(), Device::host, false, "cpu"}; }

  int threads() const { return ws_.team(); }
  // Most elements in an im2col buffer before a convolution is split into chunks of samples (tests use a small
  // limit to exercise the chunked path).
  void set_workspace_limit(std::int64_t elements);

  // The OpenBLAS kernel family in use ("SkylakeX", "Haswell", ...).
  static std::string blas_core();
  // Empty, or advice for when OpenBLAS fell back to a generic kernel on a CPU with AVX2/AVX-512 (virtual
  // machines that hide the CPU model): GEMM then runs several times slower than it could.
  static std::string blas_advice();

#include "kernels/cpu/backend_overrides.inc"
  // The fused batch-norm operations (kernels/cpu/cpu_fused_norm.cpp); the reference backend keeps the defaults.
#include "kernels/fused_norm_overrides.inc"

 private:
  // relu(x * input.scale + input.bias) in a new tensor: the input a fused convolution reads.
  Tensor normalized_input(const Tensor& x, const NormRelu& input);

  cpu::Workspace<T> ws_;
};

extern template class CpuBackend<float>;
extern template class CpuBackend<double>;

}  // namespace cbednet
