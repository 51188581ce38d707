#include "kernels/cuda/cuda_check.hpp"

namespace cbednet::cuda_detail {

bool is_sticky(cudaError_t err) {
  // These corrupt the context: every later call on it fails with the same error.
  switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorMisalignedAddress:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

void throw_cuda(cudaError_t err, const char* call, const char* file, int line, const std::string& op) {
  if (is_sticky(err))
    throw_error<CudaFatalError>("CUDA backend, ", op, ": fatal CUDA error ", cudaGetErrorName(err), " (",
                                cudaGetErrorString(err), ") in ", call, " at ", file, ":", line,
                                "; the CUDA context is unusable, the process must stop");
  throw_error<BackendError>("CUDA backend, ", op, ": ", call, " failed with ", cudaGetErrorName(err), " (",
                            cudaGetErrorString(err), ") at ", file, ":", line);
}

void throw_cudnn(cudnnStatus_t st, const char* call, const char* file, int line, const std::string& op) {
  throw_error<BackendError>("CUDA backend, ", op, ": ", call, " failed with ", cudnnGetErrorString(st), " (",
                            static_cast<int>(st), ") at ", file, ":", line);
}

static const char* cublas_status_name(cublasStatus_t st) {
  switch (st) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
    default:
      return "unknown cuBLAS status";
  }
}

void throw_cublas(cublasStatus_t st, const char* call, const char* file, int line, const std::string& op) {
  throw_error<BackendError>("CUDA backend, ", op, ": ", call, " failed with ", cublas_status_name(st), " (",
                            static_cast<int>(st), ") at ", file, ":", line);
}

void check_launch(const char* kernel, const char* file, int line, const std::string& op) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw_cuda(err, kernel, file, line, op);
}

}  // namespace cbednet::cuda_detail
