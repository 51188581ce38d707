// Row-major GEMM: C = alpha * op(A) op(B) + beta * C, with op(A) [m, k], op(B) [k, n], C [m, n].
//
// float goes to oneDNN's dnnl_sgemm, double to OpenBLAS's cblas_dgemm. oneDNN picks its kernels from the CPU's
// feature flags (AVX2, AVX-512), whereas OpenBLAS 0.3.21 picks them from the CPU model and falls back to generic
// SSE3 code on models it does not know (common on cloud VMs): 3x slower on this project's CI machine. Both split
// the work by shape and thread count only, so a fixed thread count gives bit-identical results.
#pragma once

#include <oneapi/dnnl/dnnl.h>

#include <cstdint>

#include "core/error.hpp"
#include "kernels/cpu/blas.hpp"

namespace cbednet::cpu {

inline void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                 std::int64_t ldc) {
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    throw_error<BackendError>("dnnl_sgemm(", m, "x", n, "x", k, ") failed with oneDNN status ",
                              static_cast<int>(status));
}

inline void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                 const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                 std::int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace cbednet::cpu
