// The shared per-operation suite (tests/kernels/backend_suite.hpp) on the CUDA backend: every operation, forward
// and backward, against the fp64 ReferenceBackend: fp32 (TF32 off) to 1e-5 and bf16 to 2e-2 relative error, in
// the backend's NHWC layout and in NCHW; and the same rejections as the reference. The graph_* instances run the
// whole suite with --conv-api graph (cuda_conv_graph_test.cpp adds TF32 and fp16 and checks which API ran).
// Each test skips when this machine has no CUDA device.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

#include "kernels/cuda/cuda_backend.hpp"
#include "tests/kernels/backend_suite.hpp"

namespace cbednet::test {
namespace {

// nullptr (the suite skips) without a CUDA device.
std::unique_ptr<Backend> make_cuda(const char* precision, const char* conv_api = "auto") {
  if (!cuda_device_available()) return nullptr;
  BackendOptions options{"cuda", precision, -1, 0};
  options.conv_api = conv_api;
  return make_backend(options);
}

struct CudaFp32Nhwc {
  static std::unique_ptr<Backend> make() { return make_cuda("fp32"); }
  static constexpr Layout layout = Layout::nhwc;
  static constexpr double tol = 1e-5;
};

struct CudaFp32Nchw {
  static std::unique_ptr<Backend> make() { return make_cuda("fp32"); }
  static constexpr Layout layout = Layout::nchw;
  static constexpr double tol = 1e-5;
};

struct CudaBf16Nhwc {
  static std::unique_ptr<Backend> make() { return make_cuda("bf16"); }
  static constexpr Layout layout = Layout::nhwc;
  static constexpr double tol = 2e-2;
};

struct CudaGraphFp32Nhwc {
  static std::unique_ptr<Backend> make() { return make_cuda("fp32", "graph"); }
  static constexpr Layout layout = Layout::nhwc;
  static constexpr double tol = 1e-5;
};

struct CudaGraphBf16Nhwc {
  static std::unique_ptr<Backend> make() { return make_cuda("bf16", "graph"); }
  static constexpr Layout layout = Layout::nhwc;
  static constexpr double tol = 2e-2;
};

using CudaBackends = ::testing::Types<CudaFp32Nhwc, CudaFp32Nchw, CudaBf16Nhwc, CudaGraphFp32Nhwc, CudaGraphBf16Nhwc>;

struct FactoryName {
  template <typename T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, CudaFp32Nhwc>) return "fp32_nhwc";
    if constexpr (std::is_same_v<T, CudaFp32Nchw>) return "fp32_nchw";
    if constexpr (std::is_same_v<T, CudaGraphFp32Nhwc>) return "graph_fp32_nhwc";
    if constexpr (std::is_same_v<T, CudaGraphBf16Nhwc>) return "graph_bf16_nhwc";
    return "bf16_nhwc";
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Cuda, BackendOps, CudaBackends, FactoryName);

}  // namespace
}  // namespace cbednet::test
