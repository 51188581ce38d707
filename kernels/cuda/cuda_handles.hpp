// RAII owners for CUDA, cuDNN and cuBLAS handles and descriptors. Destructors never throw: a failure while
// tearing down (typically "driver shutting down") is ignored on purpose.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <utility>

#include "kernels/cuda/cuda_check.hpp"

namespace cbednet::cuda {

// Owns one handle of type H, destroyed by Destroy; move-only.
template <typename H, auto Destroy>
class Unique {
 public:
  Unique() = default;
  explicit Unique(H h) : h_(h) {}
  ~Unique() { reset(); }
  Unique(Unique&& o) noexcept : h_(std::exchange(o.h_, H{})) {}
  Unique& operator=(Unique&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, H{});
    }
    return *this;
  }
  Unique(const Unique&) = delete;
  Unique& operator=(const Unique&) = delete;

  H get() const { return h_; }
  explicit operator bool() const { return h_ != H{}; }
  void reset() {
    if (h_ != H{}) static_cast<void>(Destroy(h_));
    h_ = H{};
  }

 private:
  H h_{};
};

using StreamHandle = Unique<cudaStream_t, cudaStreamDestroy>;
using EventHandle = Unique<cudaEvent_t, cudaEventDestroy>;
using CudnnHandle = Unique<cudnnHandle_t, cudnnDestroy>;
using CublasHandle = Unique<cublasHandle_t, cublasDestroy>;
using TensorDesc = Unique<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDesc = Unique<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDesc = Unique<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;
using ActivationDesc = Unique<cudnnActivationDescriptor_t, cudnnDestroyActivationDescriptor>;

inline StreamHandle make_stream(const char* op) {
  cudaStream_t s{};
  CBEDNET_CUDA(op, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return StreamHandle(s);
}
inline EventHandle make_event(const char* op) {
  cudaEvent_t e{};
  CBEDNET_CUDA(op, cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return EventHandle(e);
}
inline TensorDesc make_tensor_desc(const char* op) {
  cudnnTensorDescriptor_t d{};
  CBEDNET_CUDNN(op, cudnnCreateTensorDescriptor(&d));
  return TensorDesc(d);
}
inline FilterDesc make_filter_desc(const char* op) {
  cudnnFilterDescriptor_t d{};
  CBEDNET_CUDNN(op, cudnnCreateFilterDescriptor(&d));
  return FilterDesc(d);
}
inline ConvDesc make_conv_desc(const char* op) {
  cudnnConvolutionDescriptor_t d{};
  CBEDNET_CUDNN(op, cudnnCreateConvolutionDescriptor(&d));
  return ConvDesc(d);
}
inline ActivationDesc make_activation_desc(const char* op) {
  cudnnActivationDescriptor_t d{};
  CBEDNET_CUDNN(op, cudnnCreateActivationDescriptor(&d));
  return ActivationDesc(d);
}

}  // namespace cbednet::cuda
