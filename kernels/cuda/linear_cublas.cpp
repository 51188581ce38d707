// Fully connected layers through cublasGemmEx with fp32 accumulation (TF32 only in tf32 mode).
//   x [N,C,1,1], w [K,C,1,1], b [K], y [N,K,1,1]; with H = W = 1 both layouts are row-major [rows, cols].
// cuBLAS is column-major: a row-major [r, c] matrix is its column-major transpose [c, r].
#include <cublas_v2.h>

#include <climits>

#include "kernels/cuda/cuda_backend_impl.hpp"

namespace cbednet::cuda {

namespace {

cudaDataType_t cuda_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::f32:
      return CUDA_R_32F;
    case DType::bf16:
      return CUDA_R_16BF;
    case DType::f16:
      return CUDA_R_16F;
    default:
      break;
  }
  throw_error<InvalidArgument>("cuda backend, ", op, ": unsupported dtype for a GEMM: ", t.describe());
}

int gemm_dim(std::int64_t v, const char* op) {
  if (v <= 0 || v > INT_MAX) throw_error<ShapeError>("cuda backend, ", op, ": GEMM dimension ", v, " out of range");
  return static_cast<int>(v);
}

}  // namespace

namespace {
struct Gemm {
  cublasHandle_t handle;
  cublasComputeType_t compute;
  const char* op;
  // C[m,n] = alpha op(A) op(B) + beta C, all column-major.
  void operator()(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const Tensor& a, int lda,
                  const Tensor& b, int ldb, float beta, Tensor& c, int ldc) const {
    const float alpha = 1.0f;
    CBEDNET_CUBLAS(
        op, cublasGemmEx(handle, ta, tb, m, n, k, &alpha, a.raw(), cuda_type(a, op), lda, b.raw(), cuda_type(b, op),
                         ldb, &beta, c.raw(), cuda_type(c, op), ldc, compute, CUBLAS_GEMM_DEFAULT));
  }
};
}  // namespace

// Shapes, dtypes and devices were checked by Backend::linear_* (kernels/op_checks.hpp); gemm_dim adds cuBLAS's
// int limit.
void CudaBackend::do_linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  const char* op = "linear_forward";
  const std::int64_t n = x.shape().n, c = x.shape().c, k = w.shape().n;
  const cublasComputeType_t compute = precision_ == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  // y^T [K,N] = (w^T [C,K])^T x^T [C,N]
  Gemm{cublas_.get(), compute, op}(CUBLAS_OP_T, CUBLAS_OP_N, gemm_dim(k, op), gemm_dim(n, op), gemm_dim(c, op), w,
                                   gemm_dim(c, op), x, gemm_dim(c, op), 0.0f, y, gemm_dim(k, op));
  if (b) {
    add_channel_bias(view_of(y), view_of(*b), stream_.get(), op);
  }
}

void CudaBackend::do_linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  const char* op = "linear_backward_data";
  const std::int64_t n = dy.shape().n, k = dy.shape().c, c = w.shape().c;
  const cublasComputeType_t compute = precision_ == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  // dx^T [C,N] = w^T [C,K] dy^T [K,N]
  Gemm{cublas_.get(), compute, op}(CUBLAS_OP_N, CUBLAS_OP_N, gemm_dim(c, op), gemm_dim(n, op), gemm_dim(k, op), w,
                                   gemm_dim(c, op), dy, gemm_dim(k, op), 0.0f, dx, gemm_dim(c, op));
}

void CudaBackend::do_linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db, GradMode mode) {
  const char* op = "linear_backward_weights";
  const std::int64_t n = x.shape().n, c = x.shape().c, k = dy.shape().c;
  const cublasComputeType_t compute = precision_ == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const float beta = mode == GradMode::accumulate ? 1.0f : 0.0f;
  // dw^T [C,K] = x^T [C,N] (dy^T [K,N])^T
  Gemm{cublas_.get(), compute, op}(CUBLAS_OP_N, CUBLAS_OP_T, gemm_dim(c, op), gemm_dim(k, op), gemm_dim(n, op), x,
                                   gemm_dim(c, op), dy, gemm_dim(k, op), beta, dw, gemm_dim(c, op));
  if (db) {
    const View src = view_of(dy);
    const std::shared_ptr<Allocation> partial = alloc_->allocate(channel_sum_scratch_bytes(src), op);
    channel_sum(src, partial->data(), view_of(*db), mode == GradMode::accumulate, stream_.get(), op);
  }
}

}  // namespace cbednet::cuda
