// Launchers of the hand-written CUDA kernels (elementwise.cu, with the dtype/layout conversion; pool_reduce.cu;
// loss_optim.cu).
// Plain C++ declarations, so that the cuDNN/cuBLAS code in .cpp files is compiled by the host compiler.
// Every launcher enqueues on `stream`, checks the launch and throws BackendError naming `op`.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/tensor.hpp"
#include "kernels/cuda/dropout_rng.hpp"  // CBEDNET_HOST_DEVICE

namespace cbednet::cuda {

// What a kernel needs of a device tensor: its data, dtype, layout and logical shape (N, C, H, W).
struct View {
  void* data = nullptr;
  DType dtype = DType::f32;
  Layout layout = Layout::nchw;
  std::int64_t n = 0, c = 0, h = 0, w = 0;
  CBEDNET_HOST_DEVICE std::int64_t count() const { return n * c * h * w; }
};

inline View view_of(const Tensor& t) {
  const Shape& s = t.shape();
  return {const_cast<void*>(t.raw()), t.dtype(), t.layout(), s.n, s.c, s.h, s.w};
}

// ---- flat buffers: segments per launch ------------------------------------------------------------------
// Up to kSegmentsPerLaunch segments of flat buffers (kernels/backend.hpp's FlatSegment), handed to the kernel by
// value as a __grid_constant__ parameter (CUDA 12.1+ on Volta and later accept 32 KiB of parameters; this is under
// 9 KiB), so one launch needs no device table to upload or cache; a store with more segments takes more launches.
// Packed element i (0 <= i < packed_start[count]) is element offset[s] + i - packed_start[s] of the buffers, s the
// segment with packed_start[s] <= i < packed_start[s + 1].
inline constexpr int kSegmentsPerLaunch = 512;
struct SegmentBatch {
  int count = 0;
  std::int64_t packed_start[kSegmentsPerLaunch + 1];
  std::int64_t offset[kSegmentsPerLaunch];
  bool decayed[kSegmentsPerLaunch];
};

// ---- conversion and elementwise (same layout for all operands unless stated) ------------------------------
void convert(const View& src, const View& dst, cudaStream_t stream, const char* op);  // any dtype/layout
// dst = src (any dtypes, same layout) on the segments of two flat buffers.
void copy_segments(const View& src, const View& dst, const SegmentBatch& segments, cudaStream_t stream, const char* op);
void fill(const View& t, double value, cudaStream_t stream, const char* op);
void axpy(double alpha, const View& x, const View& y, cudaStream_t stream, const char* op);
void scale(const View& t, double alpha, cudaStream_t stream, const char* op);
// running = (1 - momentum) running + (momentum / micro_batches) sums, sums = 0 (same layout): scale, axpy and fill
// in one launch, with their roundings.
void fold_running_statistics(const View& running, const View& sums, double momentum, double micro_batches,
                             cudaStream_t stream, const char* op);
void relu_forward(const View& x, const View& y, cudaStream_t stream, const char* op);
void relu_backward(const View& y, const View& dy, const View& dx, cudaStream_t stream, const char* op);
void add(const View& a, const View& b, const View& y, cudaStream_t stream, const char* op);
void multiply(const View& a, const View& b, const View& y, cudaStream_t stream, const char* op);
// dst (+)= src channel by channel, channels of dst beyond src's count zero (padding) or src's beyond dst's dropped
// (slicing); N, H and W agree.
void copy_channels(const View& src, const View& dst, bool accumulate, cudaStream_t stream, const char* op);
// y = act(y + residual) in place (residual may have data == nullptr).
void add_relu_inplace(const View& y, const View* residual, bool relu, cudaStream_t stream, const char* op);
// Dropout with the Philox stream key (k0, k1): element e of sample first_sample + n uses
// uniform(step, (first_sample + n) * C*H*W + e), e the logical (c, h, w) index in NCHW order.
void dropout_forward(const View& x, double p, std::uint32_t k0, std::uint32_t k1, std::uint64_t step,
                     std::int64_t first_sample, const View& y, const View& mask, cudaStream_t stream, const char* op);
// Writes 1 into *flag (device int) when some element is NaN or infinite.
void flag_nonfinite(const View& t, int* flag, cudaStream_t stream, const char* op);

// ---- per-channel ------------------------------------------------------------------------------------------
// y[n,k,p,q] += bias[k]
void add_channel_bias(const View& y, const View& bias, cudaStream_t stream, const char* op);
// y = act(y + bias[k] [+ residual]) in place, one pass (residual in y's layout, may be nullptr): the epilogue of
// conv2d_bias_act_forward on the legacy API.
void conv_bias_act_epilogue(const View& y, const View& bias, const View* residual, bool relu, cudaStream_t stream,
                            const char* op);
// dst[k] (+)= sum over n,h,w of src[n,k,h,w]; `scratch` is device memory of channel_sum_scratch_bytes(src).
std::size_t channel_sum_scratch_bytes(const View& src);
void channel_sum(const View& src, void* scratch, const View& dst, bool accumulate, cudaStream_t stream, const char* op);
// y = act(gamma * (x - mean) / sqrt(var + eps) + beta [+ residual]); per-channel tensors are f32.
void batchnorm_inference(const View& x, const View& gamma, const View& beta, const View& mean, const View& var,
                         const View* residual, bool relu, double eps, const View& y, cudaStream_t stream,
                         const char* op);

// ---- pooling (any layout; x and y/dx in the same layout) ----------------------------------------------------
void maxpool_forward(const View& x, const View& y, int kernel, int stride, int pad, cudaStream_t stream,
                     const char* op);
// dx += the gradient of each output at its window's first maximum: the caller zeroes dx first.
void maxpool_backward(const View& x, const View& dy, const View& dx, int kernel, int stride, int pad,
                      cudaStream_t stream, const char* op);
void global_avgpool_forward(const View& x, const View& y, cudaStream_t stream, const char* op);
void global_avgpool_backward(const View& dy, const View& dx, cudaStream_t stream, const char* op);

// ---- loss and optimizer -----------------------------------------------------------------------------------
void softmax_xent_forward(const View& logits, const View& labels, const View* weights, double smoothing,
                          const View& probs, const View& losses, cudaStream_t stream, const char* op);
void softmax_xent_backward(const View& probs, const View& labels, const View* weights, double smoothing, double scale,
                           const View& dlogits, cudaStream_t stream, const char* op);
// stats [1,2,1,1] += (sum of losses, samples whose first largest probability is the label): one block, fixed order.
// Compiled only: never run on a GPU yet.
void loss_statistics(const View& probs, const View& losses, const View& labels, const View& stats, cudaStream_t stream,
                     const char* op);
void sgd_update(const View& param, const View& grad, const View& momentum, double lr, double mu, double wd,
                bool nesterov, double grad_scale, cudaStream_t stream, const char* op);
// The same update on the segments of flat buffers (wd on the decayed ones, 0 elsewhere): bit for bit what
// sgd_update gives each segment, as both run one device function per element.
void sgd_update_segments(const View& param, const View& grad, const View& momentum, const SegmentBatch& segments,
                         double lr, double mu, double wd, bool nesterov, double grad_scale, cudaStream_t stream,
                         const char* op);

}  // namespace cbednet::cuda
