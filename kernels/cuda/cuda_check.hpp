// Checked calls into CUDA, cuDNN and cuBLAS. Every failure throws BackendError naming the call, the source
// location and the backend operation it belongs to ("conv2d_forward", ...). Sticky CUDA errors (illegal
// address, launch failure, ...) leave the context unusable: they throw CudaFatalError, which the top level
// must treat as fatal for the process (no further CUDA call can succeed).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <string>

#include "core/error.hpp"

namespace cbednet {

class CudaFatalError : public BackendError {
 public:
  using BackendError::BackendError;
};

namespace cuda_detail {
bool is_sticky(cudaError_t err);
[[noreturn]] void throw_cuda(cudaError_t err, const char* call, const char* file, int line, const std::string& op);
[[noreturn]] void throw_cudnn(cudnnStatus_t st, const char* call, const char* file, int line, const std::string& op);
[[noreturn]] void throw_cublas(cublasStatus_t st, const char* call, const char* file, int line, const std::string& op);
// After a kernel launch: launch-configuration errors and earlier asynchronous faults.
void check_launch(const char* kernel, const char* file, int line, const std::string& op);
}  // namespace cuda_detail

}  // namespace cbednet

// `op` is the backend operation (or a longer context string) reported with the failure.
#define CBEDNET_CUDA(op, call)                                                           \
  do {                                                                                   \
    const cudaError_t cbednet_err_ = (call);                                             \
    if (cbednet_err_ != cudaSuccess)                                                     \
      ::cbednet::cuda_detail::throw_cuda(cbednet_err_, #call, __FILE__, __LINE__, (op)); \
  } while (0)

#define CBEDNET_CUDNN(op, call)                                                          \
  do {                                                                                   \
    const cudnnStatus_t cbednet_st_ = (call);                                            \
    if (cbednet_st_ != CUDNN_STATUS_SUCCESS)                                             \
      ::cbednet::cuda_detail::throw_cudnn(cbednet_st_, #call, __FILE__, __LINE__, (op)); \
  } while (0)

#define CBEDNET_CUBLAS(op, call)                                                          \
  do {                                                                                    \
    const cublasStatus_t cbednet_st_ = (call);                                            \
    if (cbednet_st_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::cbednet::cuda_detail::throw_cublas(cbednet_st_, #call, __FILE__, __LINE__, (op)); \
  } while (0)

#define CBEDNET_CHECK_LAUNCH(op, kernel) ::cbednet::cuda_detail::check_launch(kernel, __FILE__, __LINE__, (op))
