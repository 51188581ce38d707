// Launchers of the fused batch-norm kernels (fused_norm.cu): the device arithmetic behind the CUDA backend's
// "fused batch norm for training" operations (kernels/backend.hpp), so that none of them goes through the host.
// Every reduction runs in a fixed order (two stages, fp64 partials, no atomics): results are bitwise reproducible
// run to run. The large operands of one call share one layout (the caller converts); per-channel tensors are
// [1,C,1,1] in any floating dtype. Plain C++ declarations, as kernels.hpp.
// Compiled and linked only: these kernels have never run on a GPU (docs/gpu-backend.md, "Not done yet").
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cuda/kernels.hpp"

namespace cbednet::cuda {

// Backend::batchnorm_finalize in one launch, one thread per channel, in fp64: mean, biased and unbiased variance,
// invstd, scale and bias from the sums of `count` values; then step_mean_sum += mean and step_var_sum += var (either
// may be nullptr) with the rounding of axpy (the stored mean and var, added in fp32).
void batchnorm_finalize(const View& sum, const View& sqsum, double count, const View& gamma, const View& beta,
                        double eps, const View& scale, const View& bias, const View& mean, const View& var,
                        const View& invstd, const View* step_mean_sum, const View* step_var_sum, cudaStream_t stream,
                        const char* op);

// y = act(x * scale + bias [+ residual']) per channel, residual' = residual * residual_scale + residual_bias when
// those are given and residual otherwise (residual may be nullptr); fp32 arithmetic, y rounded once. x, residual
// and y in one layout. With relu and no residual this is also the "NormRelu" input transform the fallback
// convolutions read.
void scale_bias_act(const View& x, const View& scale, const View& bias, const View* residual,
                    const View* residual_scale, const View* residual_bias, bool relu, const View& y,
                    cudaStream_t stream, const char* op);

// sum[k] = sum over n,h,w of src, sqsum[k] = sum of src squared (cuDNN's genstats SUM_SQSUM), of the stored values;
// `scratch`: device memory of channel_stats_scratch_bytes(src).
std::size_t channel_stats_scratch_bytes(const View& src);
void channel_stats(const View& src, void* scratch, const View& sum, const View& sqsum, cudaStream_t stream,
                   const char* op);

// The batch norm's backward through the ReLU in front of a convolution (Backend::conv2d_backward_data_norm_relu),
// g the gradient at the ReLU's output (masked here: dz = g * (x * scale + bias > 0)) or, with mask false, dz itself.
// dbn_sums: per channel sum_dz = sum dz and sum_dzxhat = sum dz * (x - mean) * invstd, kept in fp64 in `scratch`
// (dbn_sums_scratch_bytes(x); dbn_totals() views them for dbn_apply), and dgamma (+)= sum_dzxhat, dbeta (+)= sum_dz.
std::size_t dbn_sums_scratch_bytes(const View& x);
struct DbnTotals {
  View sum_dz, sum_dzxhat;  // [1,C,1,1] f64
};
DbnTotals dbn_totals(const View& x, void* scratch);
void dbn_sums(const View& g, bool mask, const View& x, const View& scale, const View& bias, const View& mean,
              const View& invstd, void* scratch, const View& dgamma, const View& dbeta, bool accumulate,
              cudaStream_t stream, const char* op);
// dx = gamma * invstd * (dz - sum_dz / m - (x - mean) * invstd * sum_dzxhat / m), batchnorm_backward's formula
// (m = N*H*W); sum_dz and sum_dzxhat in any floating dtype (dbn_totals, or cuDNN's dbn_weight outputs).
void dbn_apply(const View& g, bool mask, const View& x, const View& scale, const View& bias, const View& gamma,
               const View& mean, const View& invstd, const View& sum_dz, const View& sum_dzxhat, const View& dx,
               cudaStream_t stream, const char* op);
// dst (+)= src for two per-channel pairs in one launch (the graph path's dgamma and dbeta).
void accumulate_channel_pairs(const View& src_a, const View& dst_a, const View& src_b, const View& dst_b,
                              bool accumulate, cudaStream_t stream, const char* op);

}  // namespace cbednet::cuda
