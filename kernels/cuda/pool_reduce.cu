// Pooling and per-channel reductions. Max pooling is hand-written rather than cudnnPoolingForward/Backward so
// that the gradient goes to the FIRST maximum of each window in row-major order (backend.hpp's rule; cuDNN
// does not document its tie rule). All reductions run in a fixed order (no atomics): results are bitwise
// reproducible run to run.
#include "kernels/cuda/device_common.cuh"

namespace cbednet::cuda {

// ---- CUDA kernels -----------------------------------------------------------------------------------------

// Row-major position (r * kernel + s) of the first maximum of output (n, c, p, q)'s window; -1 if the window
// holds no input element (cannot happen when pad < kernel).
__device__ int first_max_in_window(const View& x, i64 n, i64 c, i64 p, i64 q, int kernel, int stride, int pad,
                                   float* best_out) {
  int best_pos = -1;
  float best = 0.0f;
  for (int r = 0; r < kernel; ++r) {
    const i64 ih = p * stride - pad + r;
    if (ih < 0 || ih >= x.h) continue;
    for (int s = 0; s < kernel; ++s) {
      const i64 iw = q * stride - pad + s;
      if (iw < 0 || iw >= x.w) continue;
      const float v = loadf(x.data, x.dtype, offset(x, n, c, ih, iw));
      if (best_pos < 0 || v > best) {
        best = v;
        best_pos = r * kernel + s;
      }
    }
  }
  *best_out = best;
  return best_pos;
}

// One thread per output element (memory order of y).
__global__ void maxpool_forward_kernel(View x, View y, int kernel, int stride, int pad) {
  CBEDNET_GRID_STRIDE(i, y.count()) {
    const Coord k = coord(y, i);
    float best = 0.0f;
    first_max_in_window(x, k.n, k.c, k.h, k.w, kernel, stride, pad, &best);
    storef(y.data, y.dtype, i, best);
  }
}

// Backward as a scatter in phases, without atomics (so bitwise reproducible) and without a pass per input element:
// the windows of outputs p and p + m, m = ceil(kernel / stride), do not overlap, so within one phase -- the outputs
// with (p mod m, q mod m) = (pp, qq) -- every output adds its gradient to its window's first maximum and no two
// threads touch the same input element. dx is zeroed first and the m * m phases run in a fixed order. One thread per
// output of the phase, consecutive threads along dy's memory order (channels first in NHWC).
__global__ void maxpool_scatter_phase_kernel(View x, View dy, View dx, int kernel, int stride, int pad, int m, int pp,
                                             int qq, i64 rows, i64 cols) {
  CBEDNET_GRID_STRIDE(i, dy.n * dy.c * rows * cols) {
    i64 n, c, a, b;  // (a, b): the output's place in the phase's rows x cols grid
    if (dy.layout == Layout::nhwc) {
      c = i % dy.c;
      i64 rest = i / dy.c;
      b = rest % cols;
      rest /= cols;
      a = rest % rows;
      n = rest / rows;
    } else {
      b = i % cols;
      i64 rest = i / cols;
      a = rest % rows;
      rest /= rows;
      c = rest % dy.c;
      n = rest / dy.c;
    }
    const i64 p = a * m + pp, q = b * m + qq;
    float best = 0.0f;
    const int at = first_max_in_window(x, n, c, p, q, kernel, stride, pad, &best);
    if (at < 0) continue;  // a window of padding only (cannot happen when pad < kernel)
    const i64 o = offset(dx, n, c, p * stride - pad + at / kernel, q * stride - pad + at % kernel);
    storef(dx.data, dx.dtype, o, loadf(dx.data, dx.dtype, o) + loadf(dy.data, dy.dtype, offset(dy, n, c, p, q)));
  }
}

// One thread per (n, c); consecutive threads read consecutive channels (coalesced in NHWC).
__global__ void global_avgpool_forward_kernel(View x, View y) {
  const i64 hw = x.h * x.w;
  CBEDNET_GRID_STRIDE(i, x.n * x.c) {
    const i64 n = i / x.c, c = i % x.c;
    double sum = 0.0;
    for (i64 j = 0; j < hw; ++j) sum += load(x.data, x.dtype, offset(x, n, c, j / x.w, j % x.w));
    store(y.data, y.dtype, offset(y, n, c, 0, 0), sum / static_cast<double>(hw));
  }
}

__global__ void global_avgpool_backward_kernel(View dy, View dx) {
  const float inv = 1.0f / static_cast<float>(dx.h * dx.w);
  CBEDNET_GRID_STRIDE(i, dx.count()) {
    const Coord k = coord(dx, i);
    storef(dx.data, dx.dtype, i, loadf(dy.data, dy.dtype, offset(dy, k.n, k.c, 0, 0)) * inv);
  }
}

constexpr int kSumChannels = 32;  // threads along channels per block
constexpr int kSumRows = 8;       // threads along rows (n, h, w) per block

// Stage 1 of channel_sum: block (bx, by) sums rows by*kSumRows + ty, stepping by gridDim.y*kSumRows, of
// channels bx*32 + tx, and writes one partial per (by, channel).
__global__ void channel_partial_kernel(View src, double* partial) {
  __shared__ double tile[kSumRows][kSumChannels];
  const i64 c = static_cast<i64>(blockIdx.x) * kSumChannels + threadIdx.x;
  const i64 hw = src.h * src.w, rows = src.n * hw;
  double sum = 0.0;
  if (c < src.c) {
    for (i64 row = static_cast<i64>(blockIdx.y) * kSumRows + threadIdx.y; row < rows;
         row += static_cast<i64>(gridDim.y) * kSumRows) {
      const i64 n = row / hw, j = row % hw;
      sum += load(src.data, src.dtype, offset(src, n, c, j / src.w, j % src.w));
    }
  }
  tile[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < src.c) {
    double total = 0.0;
    for (int r = 0; r < kSumRows; ++r) total += tile[r][threadIdx.x];
    partial[static_cast<i64>(blockIdx.y) * src.c + c] = total;
  }
}

// Stage 2: dst[c] (+)= sum of the partials of channel c in a fixed order.
__global__ void channel_final_kernel(const double* partial, int splits, i64 channels, View dst, bool accumulate) {
  CBEDNET_GRID_STRIDE(c, channels) {
    double total = 0.0;
    for (int s = 0; s < splits; ++s) total += partial[static_cast<i64>(s) * channels + c];
    if (accumulate) total += load(dst.data, dst.dtype, c);
    store(dst.data, dst.dtype, c, total);
  }
}

// ---- kernel launchers -------------------------------------------------------------------------------------

void maxpool_forward(const View& x, const View& y, int kernel, int stride, int pad, cudaStream_t stream,
                     const char* op) {
  if (y.count() == 0) return;
  maxpool_forward_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(x, y, kernel, stride, pad);
  CBEDNET_CHECK_LAUNCH(op, "maxpool_forward_kernel");
}

void maxpool_backward(const View& x, const View& dy, const View& dx, int kernel, int stride, int pad,
                      cudaStream_t stream, const char* op) {
  if (dx.count() == 0 || dy.count() == 0) return;  // dx was zeroed by the caller
  const int m = (kernel + stride - 1) / stride;
  for (int pp = 0; pp < m; ++pp)
    for (int qq = 0; qq < m; ++qq) {
      const i64 rows = (dy.h - pp + m - 1) / m, cols = (dy.w - qq + m - 1) / m;
      if (rows <= 0 || cols <= 0) continue;
      maxpool_scatter_phase_kernel<<<blocks_for(dy.n * dy.c * rows * cols), kThreads, 0, stream>>>(
          x, dy, dx, kernel, stride, pad, m, pp, qq, rows, cols);
      CBEDNET_CHECK_LAUNCH(op, "maxpool_scatter_phase_kernel");
    }
}

void global_avgpool_forward(const View& x, const View& y, cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  global_avgpool_forward_kernel<<<blocks_for(x.n * x.c), kThreads, 0, stream>>>(x, y);
  CBEDNET_CHECK_LAUNCH(op, "global_avgpool_forward_kernel");
}

void global_avgpool_backward(const View& dy, const View& dx, cudaStream_t stream, const char* op) {
  if (dx.count() == 0) return;
  global_avgpool_backward_kernel<<<blocks_for(dx.count()), kThreads, 0, stream>>>(dy, dx);
  CBEDNET_CHECK_LAUNCH(op, "global_avgpool_backward_kernel");
}

static int channel_splits(const View& src) {
  // About 64 rows per thread row, at most 256 splits: enough blocks for large N*H*W, few partials to add.
  const i64 rows = src.n * src.h * src.w;
  return static_cast<int>(std::max<i64>(1, std::min<i64>(256, (rows + 64 * kSumRows - 1) / (64 * kSumRows))));
}

std::size_t channel_sum_scratch_bytes(const View& src) {
  return static_cast<std::size_t>(channel_splits(src)) * static_cast<std::size_t>(std::max<i64>(src.c, 1)) *
         sizeof(double);
}

void channel_sum(const View& src, void* scratch, const View& dst, bool accumulate, cudaStream_t stream,
                 const char* op) {
  if (src.c == 0) return;
  const int splits = channel_splits(src);
  auto* partial = static_cast<double*>(scratch);
  const dim3 grid(static_cast<unsigned>((src.c + kSumChannels - 1) / kSumChannels), static_cast<unsigned>(splits));
  channel_partial_kernel<<<grid, dim3(kSumChannels, kSumRows), 0, stream>>>(src, partial);
  CBEDNET_CHECK_LAUNCH(op, "channel_partial_kernel");
  channel_final_kernel<<<blocks_for(src.c), kThreads, 0, stream>>>(partial, splits, src.c, dst, accumulate);
  CBEDNET_CHECK_LAUNCH(op, "channel_final_kernel");
}

}  // namespace cbednet::cuda
