// Elementwise kernels: dtype/layout conversion, fill, axpy, scale, ReLU, add, dropout, finiteness check,
// per-channel bias, the epilogue of a convolution with a folded batch norm, and batch-norm inference. One thread
// per element (grid-stride); arithmetic in fp32 except conversion (fp64, so that f64 -> f32 rounds once).
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/dropout_rng.hpp"

namespace cbednet::cuda {

// ---- CUDA kernels -----------------------------------------------------------------------------------------

__global__ void convert_kernel(View src, View dst) {
  const i64 count = dst.count();
  const bool same_layout = src.layout == dst.layout;
  CBEDNET_GRID_STRIDE(i, count) {
    i64 j = i;
    if (!same_layout) {
      const Coord k = coord(dst, i);
      j = offset(src, k.n, k.c, k.h, k.w);
    }
    store(dst.data, dst.dtype, i, load(src.data, src.dtype, j));
  }
}

__global__ void copy_segments_kernel(View src, View dst, const __grid_constant__ SegmentBatch segments) {
  CBEDNET_GRID_STRIDE(i, segments.packed_start[segments.count]) {
    const int s = segment_of(segments, i);
    const i64 e = segments.offset[s] + (i - segments.packed_start[s]);
    store(dst.data, dst.dtype, e, load(src.data, src.dtype, e));  // as convert_kernel in one layout
  }
}

__global__ void fill_kernel(View t, double value) {
  CBEDNET_GRID_STRIDE(i, t.count()) store(t.data, t.dtype, i, value);
}

__global__ void axpy_kernel(float alpha, View x, View y) {
  CBEDNET_GRID_STRIDE(i, y.count())
  storef(y.data, y.dtype, i, fmaf(alpha, loadf(x.data, x.dtype, i), loadf(y.data, y.dtype, i)));
}

__global__ void scale_kernel(View t, float alpha) {
  CBEDNET_GRID_STRIDE(i, t.count()) storef(t.data, t.dtype, i, alpha * loadf(t.data, t.dtype, i));
}

// scale_kernel, axpy_kernel and fill_kernel in one pass, each rounding as there (the scaled value goes through the
// running statistics' dtype before the fused multiply-add), so the bits are those of the three launches.
__global__ void fold_running_statistics_kernel(View running, View sums, float keep, float add) {
  CBEDNET_GRID_STRIDE(i, running.count()) {
    storef(running.data, running.dtype, i, keep * loadf(running.data, running.dtype, i));
    storef(running.data, running.dtype, i,
           fmaf(add, loadf(sums.data, sums.dtype, i), loadf(running.data, running.dtype, i)));
    store(sums.data, sums.dtype, i, 0.0);
  }
}

__global__ void relu_forward_kernel(View x, View y) {
  CBEDNET_GRID_STRIDE(i, y.count()) storef(y.data, y.dtype, i, fmaxf(loadf(x.data, x.dtype, i), 0.0f));
}

__global__ void relu_backward_kernel(View y, View dy, View dx) {
  CBEDNET_GRID_STRIDE(i, dx.count())
  storef(dx.data, dx.dtype, i, loadf(y.data, y.dtype, i) > 0.0f ? loadf(dy.data, dy.dtype, i) : 0.0f);
}

__global__ void add_kernel(View a, View b, View y) {
  CBEDNET_GRID_STRIDE(i, y.count())
  storef(y.data, y.dtype, i, loadf(a.data, a.dtype, i) + loadf(b.data, b.dtype, i));
}

__global__ void multiply_kernel(View a, View b, View y) {
  CBEDNET_GRID_STRIDE(i, y.count())
  storef(y.data, y.dtype, i, loadf(a.data, a.dtype, i) * loadf(b.data, b.dtype, i));
}

// dst (+)= src with channels beyond src's zero; src and dst share N, H, W (any layouts and dtypes).
__global__ void copy_channels_kernel(View src, View dst, bool accumulate) {
  CBEDNET_GRID_STRIDE(i, dst.count()) {
    const Coord k = coord(dst, i);
    float v = k.c < src.c ? loadf(src.data, src.dtype, offset(src, k.n, k.c, k.h, k.w)) : 0.0f;
    if (accumulate) v += loadf(dst.data, dst.dtype, i);
    storef(dst.data, dst.dtype, i, v);
  }
}

__global__ void add_relu_inplace_kernel(View y, View r, bool relu) {
  CBEDNET_GRID_STRIDE(i, y.count()) {
    float v = loadf(y.data, y.dtype, i);
    if (r.data != nullptr) v += loadf(r.data, r.dtype, i);
    if (relu) v = fmaxf(v, 0.0f);
    storef(y.data, y.dtype, i, v);
  }
}

__global__ void dropout_forward_kernel(View x, double p, std::uint32_t k0, std::uint32_t k1, std::uint64_t step,
                                       std::int64_t first_sample, View y, View mask) {
  const i64 per_sample = x.c * x.h * x.w;
  const float keep_scale = p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
  CBEDNET_GRID_STRIDE(i, x.count()) {
    const Coord k = coord(x, i);
    const i64 e = (k.c * x.h + k.h) * x.w + k.w;  // logical NCHW index inside the sample, whatever the layout
    const auto counter = static_cast<std::uint64_t>((first_sample + k.n) * per_sample + e);
    const double u = philox_uniform(k0, k1, step, counter);
    const float m = u >= p ? keep_scale : 0.0f;
    storef(mask.data, mask.dtype, i, m);
    storef(y.data, y.dtype, i, loadf(x.data, x.dtype, i) * m);
  }
}

__global__ void flag_nonfinite_kernel(View t, int* flag) {
  CBEDNET_GRID_STRIDE(i, t.count()) {
    if (!isfinite(loadf(t.data, t.dtype, i))) *flag = 1;  // every writer stores 1: the race is benign
  }
}

__global__ void add_channel_bias_kernel(View y, View bias) {
  CBEDNET_GRID_STRIDE(i, y.count()) {
    const i64 c = channel_of(y, i);
    storef(y.data, y.dtype, i, loadf(y.data, y.dtype, i) + loadf(bias.data, bias.dtype, c));
  }
}

// The epilogue of a convolution with a batch norm folded in: one read and one write of y instead of a pass each for
// the bias, the residual add and the ReLU (the sum is rounded to y's dtype once).
__global__ void conv_bias_act_epilogue_kernel(View y, View bias, View r, bool relu) {
  CBEDNET_GRID_STRIDE(i, y.count()) {
    float v = loadf(y.data, y.dtype, i) + loadf(bias.data, bias.dtype, channel_of(y, i));
    if (r.data != nullptr) v += loadf(r.data, r.dtype, i);
    if (relu) v = fmaxf(v, 0.0f);
    storef(y.data, y.dtype, i, v);
  }
}

__global__ void batchnorm_inference_kernel(View x, View gamma, View beta, View mean, View var, View r, bool relu,
                                           double eps, View y) {
  CBEDNET_GRID_STRIDE(i, y.count()) {
    const i64 c = channel_of(x, i);
    const float invstd = static_cast<float>(1.0 / sqrt(load(var.data, var.dtype, c) + eps));
    float v =
        loadf(gamma.data, gamma.dtype, c) * (loadf(x.data, x.dtype, i) - loadf(mean.data, mean.dtype, c)) * invstd +
        loadf(beta.data, beta.dtype, c);
    if (r.data != nullptr) v += loadf(r.data, r.dtype, i);
    if (relu) v = fmaxf(v, 0.0f);
    storef(y.data, y.dtype, i, v);
  }
}

// ---- kernel launchers -------------------------------------------------------------------------------------

void convert(const View& src, const View& dst, cudaStream_t stream, const char* op) {
  if (dst.count() == 0) return;
  convert_kernel<<<blocks_for(dst.count()), kThreads, 0, stream>>>(src, dst);
  CBEDNET_CHECK_LAUNCH(op, "convert_kernel");
}

void copy_segments(const View& src, const View& dst, const SegmentBatch& segments, cudaStream_t stream,
                   const char* op) {
  const i64 count = segments.packed_start[segments.count];
  if (count == 0) return;
  copy_segments_kernel<<<blocks_for(count), kThreads, 0, stream>>>(src, dst, segments);
  CBEDNET_CHECK_LAUNCH(op, "copy_segments_kernel");
}

void fill(const View& t, double value, cudaStream_t stream, const char* op) {
  if (t.count() == 0) return;
  fill_kernel<<<blocks_for(t.count()), kThreads, 0, stream>>>(t, value);
  CBEDNET_CHECK_LAUNCH(op, "fill_kernel");
}

void axpy(double alpha, const View& x, const View& y, cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  axpy_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(static_cast<float>(alpha), x, y);
  CBEDNET_CHECK_LAUNCH(op, "axpy_kernel");
}

void fold_running_statistics(const View& running, const View& sums, double momentum, double micro_batches,
                             cudaStream_t stream, const char* op) {
  if (running.count() == 0) return;
  fold_running_statistics_kernel<<<blocks_for(running.count()), kThreads, 0, stream>>>(
      running, sums, static_cast<float>(1.0 - momentum), static_cast<float>(momentum / micro_batches));
  CBEDNET_CHECK_LAUNCH(op, "fold_running_statistics_kernel");
}

void scale(const View& t, double alpha, cudaStream_t stream, const char* op) {
  if (t.count() == 0) return;
  scale_kernel<<<blocks_for(t.count()), kThreads, 0, stream>>>(t, static_cast<float>(alpha));
  CBEDNET_CHECK_LAUNCH(op, "scale_kernel");
}

void relu_forward(const View& x, const View& y, cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  relu_forward_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(x, y);
  CBEDNET_CHECK_LAUNCH(op, "relu_forward_kernel");
}

void relu_backward(const View& y, const View& dy, const View& dx, cudaStream_t stream, const char* op) {
  if (dx.count() == 0) return;
  relu_backward_kernel<<<blocks_for(dx.count()), kThreads, 0, stream>>>(y, dy, dx);
  CBEDNET_CHECK_LAUNCH(op, "relu_backward_kernel");
}

void add(const View& a, const View& b, const View& y, cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  add_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(a, b, y);
  CBEDNET_CHECK_LAUNCH(op, "add_kernel");
}

void multiply(const View& a, const View& b, const View& y, cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  multiply_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(a, b, y);
  CBEDNET_CHECK_LAUNCH(op, "multiply_kernel");
}

void copy_channels(const View& src, const View& dst, bool accumulate, cudaStream_t stream, const char* op) {
  if (dst.count() == 0) return;
  copy_channels_kernel<<<blocks_for(dst.count()), kThreads, 0, stream>>>(src, dst, accumulate);
  CBEDNET_CHECK_LAUNCH(op, "copy_channels_kernel");
}

void add_relu_inplace(const View& y, const View* residual, bool relu, cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  add_relu_inplace_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(y, residual ? *residual : View{}, relu);
  CBEDNET_CHECK_LAUNCH(op, "add_relu_inplace_kernel");
}

void dropout_forward(const View& x, double p, std::uint32_t k0, std::uint32_t k1, std::uint64_t step,
                     std::int64_t first_sample, const View& y, const View& mask, cudaStream_t stream, const char* op) {
  if (x.count() == 0) return;
  dropout_forward_kernel<<<blocks_for(x.count()), kThreads, 0, stream>>>(x, p, k0, k1, step, first_sample, y, mask);
  CBEDNET_CHECK_LAUNCH(op, "dropout_forward_kernel");
}

void flag_nonfinite(const View& t, int* flag, cudaStream_t stream, const char* op) {
  if (t.count() == 0) return;
  flag_nonfinite_kernel<<<blocks_for(t.count()), kThreads, 0, stream>>>(t, flag);
  CBEDNET_CHECK_LAUNCH(op, "flag_nonfinite_kernel");
}

void add_channel_bias(const View& y, const View& bias, cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  add_channel_bias_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(y, bias);
  CBEDNET_CHECK_LAUNCH(op, "add_channel_bias_kernel");
}

void conv_bias_act_epilogue(const View& y, const View& bias, const View* residual, bool relu, cudaStream_t stream,
                            const char* op) {
  if (y.count() == 0) return;
  conv_bias_act_epilogue_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(y, bias, residual ? *residual : View{},
                                                                                relu);
  CBEDNET_CHECK_LAUNCH(op, "conv_bias_act_epilogue_kernel");
}

void batchnorm_inference(const View& x, const View& gamma, const View& beta, const View& mean, const View& var,
                         const View* residual, bool relu, double eps, const View& y, cudaStream_t stream,
                         const char* op) {
  if (y.count() == 0) return;
  batchnorm_inference_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(
      x, gamma, beta, mean, var, residual ? *residual : View{}, relu, eps, y);
  CBEDNET_CHECK_LAUNCH(op, "batchnorm_inference_kernel");
}

}  // namespace cbednet::cuda
