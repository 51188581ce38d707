// The kernels of the fused batch-norm operations (fused_norm_kernels.hpp): batchnorm_finalize per channel in fp64,
// the scale/bias/residual/ReLU pass, and the two per-channel reductions (genstats: sum and sum of squares of a
// convolution's output; the batch norm's backward sums of dz and dz * xhat). The reductions share one two-stage
// scheme, as channel_sum in pool_reduce.cu: each block sums a fixed set of rows of 32 channels into fp64 partials,
// then one thread per channel adds its partials in order. No atomics: the same inputs give the same bits.
// Compiled and linked only; never run on a GPU yet (docs/gpu-backend.md).
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/fused_norm_kernels.hpp"

namespace cbednet::cuda {

namespace {

constexpr int kPairChannels = 32;  // threads along channels per block
constexpr int kPairRows = 8;       // threads along rows (n, h, w) per block

// ---- per-channel terms of the reductions -----------------------------------------------------------------------
// A Terms type gives, for channel c, a functor adding element o's two terms to (a, b); the per-channel values are
// loaded once per thread (a thread stays on one channel).

struct StatsTerms {
  View src;
  struct Channel {
    View src;
    __device__ void operator()(i64 o, double& a, double& b) const {
      const double v = load(src.data, src.dtype, o);
      a += v;
      b += v * v;
    }
  };
  __device__ Channel channel(i64 /*c*/) const { return {src}; }
};

// dz = g masked by x * scale + bias > 0 (when mask), xhat = (x - mean) * invstd: terms dz and dz * xhat.
struct DbnTerms {
  View g, x, scale, bias, mean, invstd;
  bool mask;
  struct Channel {
    View g, x;
    bool mask;
    float s, b, mu, inv;
    __device__ void operator()(i64 o, double& a, double& q) const {
      const float xv = loadf(x.data, x.dtype, o);
      const float gv = !mask || fmaf(xv, s, b) > 0.0f ? loadf(g.data, g.dtype, o) : 0.0f;
      a += gv;
      q += static_cast<double>(gv) * static_cast<double>((xv - mu) * inv);
    }
  };
  __device__ Channel channel(i64 c) const {
    return {g,
            x,
            mask,
            mask ? loadf(scale.data, scale.dtype, c) : 0.0f,
            mask ? loadf(bias.data, bias.dtype, c) : 0.0f,
            loadf(mean.data, mean.dtype, c),
            loadf(invstd.data, invstd.dtype, c)};
  }
};

// Stage 1: block (bx, by) sums rows by * kPairRows + ty, stepping by gridDim.y * kPairRows, of channels
// bx * 32 + tx, and writes one partial pair per (by, channel). `shape` gives N, C, H, W and the layout.
template <typename Terms>
__global__ void pair_partial_kernel(View shape, Terms terms, double* partial_a, double* partial_b) {
  __shared__ double tile_a[kPairRows][kPairChannels];
  __shared__ double tile_b[kPairRows][kPairChannels];
  const i64 c = static_cast<i64>(blockIdx.x) * kPairChannels + threadIdx.x;
  const i64 hw = shape.h * shape.w, rows = shape.n * hw;
  double a = 0.0, b = 0.0;
  if (c < shape.c) {
    const auto add = terms.channel(c);
    for (i64 row = static_cast<i64>(blockIdx.y) * kPairRows + threadIdx.y; row < rows;
         row += static_cast<i64>(gridDim.y) * kPairRows) {
      const i64 n = row / hw, j = row % hw;
      add(offset(shape, n, c, j / shape.w, j % shape.w), a, b);
    }
  }
  tile_a[threadIdx.y][threadIdx.x] = a;
  tile_b[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && c < shape.c) {
    double ta = 0.0, tb = 0.0;
    for (int r = 0; r < kPairRows; ++r) {
      ta += tile_a[r][threadIdx.x];
      tb += tile_b[r][threadIdx.x];
    }
    partial_a[static_cast<i64>(blockIdx.y) * shape.c + c] = ta;
    partial_b[static_cast<i64>(blockIdx.y) * shape.c + c] = tb;
  }
}

// Stage 2: the partials of channel c added in order; dst_a[c] (+)= total a, dst_b[c] (+)= total b, and, when
// keep_a/keep_b are given, the fp64 totals kept there too.
__global__ void pair_final_kernel(const double* partial_a, const double* partial_b, int splits, i64 channels,
                                  View dst_a, View dst_b, bool accumulate, double* keep_a, double* keep_b) {
  CBEDNET_GRID_STRIDE(c, channels) {
    double a = 0.0, b = 0.0;
    for (int s = 0; s < splits; ++s) {
      a += partial_a[static_cast<i64>(s) * channels + c];
      b += partial_b[static_cast<i64>(s) * channels + c];
    }
    if (keep_a) keep_a[c] = a;
    if (keep_b) keep_b[c] = b;
    if (accumulate) {
      a += load(dst_a.data, dst_a.dtype, c);
      b += load(dst_b.data, dst_b.dtype, c);
    }
    store(dst_a.data, dst_a.dtype, c, a);
    store(dst_b.data, dst_b.dtype, c, b);
  }
}

int pair_splits(const View& shape) {
  // About 64 rows per thread row, at most 256 splits (as channel_sum).
  const i64 rows = shape.n * shape.h * shape.w;
  return static_cast<int>(std::max<i64>(1, std::min<i64>(256, (rows + 64 * kPairRows - 1) / (64 * kPairRows))));
}

std::size_t pair_partial_doubles(const View& shape) {
  return 2 * static_cast<std::size_t>(pair_splits(shape)) * static_cast<std::size_t>(std::max<i64>(shape.c, 1));
}

template <typename Terms>
void pair_reduce(const View& shape, const Terms& terms, void* scratch, const View& dst_a, const View& dst_b,
                 bool accumulate, double* keep_a, double* keep_b, cudaStream_t stream, const char* op) {
  if (shape.c == 0) return;
  const int splits = pair_splits(shape);
  auto* partial_a = static_cast<double*>(scratch);
  double* partial_b = partial_a + static_cast<i64>(splits) * shape.c;
  const dim3 grid(static_cast<unsigned>((shape.c + kPairChannels - 1) / kPairChannels), static_cast<unsigned>(splits));
  pair_partial_kernel<<<grid, dim3(kPairChannels, kPairRows), 0, stream>>>(shape, terms, partial_a, partial_b);
  CBEDNET_CHECK_LAUNCH(op, "pair_partial_kernel");
  pair_final_kernel<<<blocks_for(shape.c), kThreads, 0, stream>>>(partial_a, partial_b, splits, shape.c, dst_a, dst_b,
                                                                  accumulate, keep_a, keep_b);
  CBEDNET_CHECK_LAUNCH(op, "pair_final_kernel");
}

// ---- elementwise and per-channel kernels -------------------------------------------------------------------------

// In fp64 as the default composition (kernels/fused_norm_defaults.cpp), each output rounded once; the per-step
// sums as axpy_kernel adds (fp32 fused multiply-add of the stored mean and var).
__global__ void batchnorm_finalize_kernel(View sum, View sqsum, double count, View gamma, View beta, double eps,
                                          View scale, View bias, View mean, View var, View invstd, View step_mean,
                                          View step_var) {
  CBEDNET_GRID_STRIDE(c, sum.c) {
    const double mu = load(sum.data, sum.dtype, c) / count;
    const double biased = fmax(load(sqsum.data, sqsum.dtype, c) / count - mu * mu, 0.0);
    const double inv = 1.0 / sqrt(biased + eps);
    const double s = load(gamma.data, gamma.dtype, c) * inv;
    store(mean.data, mean.dtype, c, mu);
    store(var.data, var.dtype, c, biased * count / (count - 1.0));
    store(invstd.data, invstd.dtype, c, inv);
    store(scale.data, scale.dtype, c, s);
    store(bias.data, bias.dtype, c, load(beta.data, beta.dtype, c) - mu * s);
    if (step_mean.data)
      storef(step_mean.data, step_mean.dtype, c,
             fmaf(1.0f, loadf(mean.data, mean.dtype, c), loadf(step_mean.data, step_mean.dtype, c)));
    if (step_var.data)
      storef(step_var.data, step_var.dtype, c,
             fmaf(1.0f, loadf(var.data, var.dtype, c), loadf(step_var.data, step_var.dtype, c)));
  }
}

__global__ void scale_bias_act_kernel(View x, View scale, View bias, View r, View rs, View rb, bool relu, View y) {
  CBEDNET_GRID_STRIDE(i, y.count()) {
    const i64 c = channel_of(y, i);
    float v = fmaf(loadf(x.data, x.dtype, i), loadf(scale.data, scale.dtype, c), loadf(bias.data, bias.dtype, c));
    if (r.data != nullptr) {
      float rv = loadf(r.data, r.dtype, i);
      if (rs.data != nullptr) rv = fmaf(rv, loadf(rs.data, rs.dtype, c), loadf(rb.data, rb.dtype, c));
      v += rv;
    }
    if (relu) v = fmaxf(v, 0.0f);
    storef(y.data, y.dtype, i, v);
  }
}

__global__ void dbn_apply_kernel(View g, bool mask, View x, View scale, View bias, View gamma, View mean, View invstd,
                                 View sum_dz, View sum_dzxhat, float inv_m, View dx) {
  CBEDNET_GRID_STRIDE(i, dx.count()) {
    const i64 c = channel_of(dx, i);
    const float xv = loadf(x.data, x.dtype, i);
    float gv = loadf(g.data, g.dtype, i);
    if (mask && !(fmaf(xv, loadf(scale.data, scale.dtype, c), loadf(bias.data, bias.dtype, c)) > 0.0f)) gv = 0.0f;
    const float inv = loadf(invstd.data, invstd.dtype, c);
    const float xhat = (xv - loadf(mean.data, mean.dtype, c)) * inv;
    const float mean_dz = loadf(sum_dz.data, sum_dz.dtype, c) * inv_m;
    const float mean_dzxhat = loadf(sum_dzxhat.data, sum_dzxhat.dtype, c) * inv_m;
    storef(dx.data, dx.dtype, i, loadf(gamma.data, gamma.dtype, c) * inv * (gv - mean_dz - xhat * mean_dzxhat));
  }
}

__global__ void accumulate_channel_pairs_kernel(View src_a, View dst_a, View src_b, View dst_b, bool accumulate) {
  CBEDNET_GRID_STRIDE(c, dst_a.c) {
    double a = load(src_a.data, src_a.dtype, c), b = load(src_b.data, src_b.dtype, c);
    if (accumulate) {
      a += load(dst_a.data, dst_a.dtype, c);
      b += load(dst_b.data, dst_b.dtype, c);
    }
    store(dst_a.data, dst_a.dtype, c, a);
    store(dst_b.data, dst_b.dtype, c, b);
  }
}

}  // namespace

// ---- kernel launchers ----------------------------------------------------------------------------------------------

void batchnorm_finalize(const View& sum, const View& sqsum, double count, const View& gamma, const View& beta,
                        double eps, const View& scale, const View& bias, const View& mean, const View& var,
                        const View& invstd, const View* step_mean_sum, const View* step_var_sum, cudaStream_t stream,
                        const char* op) {
  if (sum.c == 0) return;
  batchnorm_finalize_kernel<<<blocks_for(sum.c), kThreads, 0, stream>>>(
      sum, sqsum, count, gamma, beta, eps, scale, bias, mean, var, invstd, step_mean_sum ? *step_mean_sum : View{},
      step_var_sum ? *step_var_sum : View{});
  CBEDNET_CHECK_LAUNCH(op, "batchnorm_finalize_kernel");
}

void scale_bias_act(const View& x, const View& scale, const View& bias, const View* residual,
                    const View* residual_scale, const View* residual_bias, bool relu, const View& y,
                    cudaStream_t stream, const char* op) {
  if (y.count() == 0) return;
  scale_bias_act_kernel<<<blocks_for(y.count()), kThreads, 0, stream>>>(
      x, scale, bias, residual ? *residual : View{}, residual_scale ? *residual_scale : View{},
      residual_bias ? *residual_bias : View{}, relu, y);
  CBEDNET_CHECK_LAUNCH(op, "scale_bias_act_kernel");
}

std::size_t channel_stats_scratch_bytes(const View& src) { return pair_partial_doubles(src) * sizeof(double); }

void channel_stats(const View& src, void* scratch, const View& sum, const View& sqsum, cudaStream_t stream,
                   const char* op) {
  pair_reduce(src, StatsTerms{src}, scratch, sum, sqsum, false, nullptr, nullptr, stream, op);
}

std::size_t dbn_sums_scratch_bytes(const View& x) {
  return (pair_partial_doubles(x) + 2 * static_cast<std::size_t>(std::max<i64>(x.c, 1))) * sizeof(double);
}

// The fp64 totals follow the partials in the scratch.
DbnTotals dbn_totals(const View& x, void* scratch) {
  double* totals = static_cast<double*>(scratch) + pair_partial_doubles(x);
  return {View{totals, DType::f64, Layout::nchw, 1, x.c, 1, 1},
          View{totals + std::max<i64>(x.c, 1), DType::f64, Layout::nchw, 1, x.c, 1, 1}};
}

void dbn_sums(const View& g, bool mask, const View& x, const View& scale, const View& bias, const View& mean,
              const View& invstd, void* scratch, const View& dgamma, const View& dbeta, bool accumulate,
              cudaStream_t stream, const char* op) {
  const DbnTotals totals = dbn_totals(x, scratch);
  pair_reduce(x, DbnTerms{g, x, scale, bias, mean, invstd, mask}, scratch, dbeta, dgamma, accumulate,
              static_cast<double*>(totals.sum_dz.data), static_cast<double*>(totals.sum_dzxhat.data), stream, op);
}

void dbn_apply(const View& g, bool mask, const View& x, const View& scale, const View& bias, const View& gamma,
               const View& mean, const View& invstd, const View& sum_dz, const View& sum_dzxhat, const View& dx,
               cudaStream_t stream, const char* op) {
  if (dx.count() == 0) return;
  const auto inv_m = static_cast<float>(1.0 / static_cast<double>(dx.n * dx.h * dx.w));
  dbn_apply_kernel<<<blocks_for(dx.count()), kThreads, 0, stream>>>(g, mask, x, scale, bias, gamma, mean, invstd,
                                                                    sum_dz, sum_dzxhat, inv_m, dx);
  CBEDNET_CHECK_LAUNCH(op, "dbn_apply_kernel");
}

void accumulate_channel_pairs(const View& src_a, const View& dst_a, const View& src_b, const View& dst_b,
                              bool accumulate, cudaStream_t stream, const char* op) {
  if (dst_a.c == 0) return;
  accumulate_channel_pairs_kernel<<<blocks_for(dst_a.c), kThreads, 0, stream>>>(src_a, dst_a, src_b, dst_b, accumulate);
  CBEDNET_CHECK_LAUNCH(op, "accumulate_channel_pairs_kernel");
}

}  // namespace cbednet::cuda
