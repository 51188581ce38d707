// Softmax cross-entropy with label smoothing and class weights, and the SGD momentum update.
#include "kernels/cuda/device_common.cuh"

namespace cbednet::cuda {

// ---- CUDA kernels -----------------------------------------------------------------------------------------

constexpr int kLossThreads = 256;

// Block-wide reduction (sum or max) of one double per thread; every thread gets the result.
template <bool Max>
__device__ double block_reduce(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = kLossThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      const double o = shared[threadIdx.x + s];
      shared[threadIdx.x] = Max ? fmax(shared[threadIdx.x], o) : shared[threadIdx.x] + o;
    }
    __syncthreads();
  }
  const double r = shared[0];
  __syncthreads();
  return r;
}

// One block per sample n: logits [N,K,1,1] (index n*K + k in both layouts).
//   loss_n = w[label] * (max + log S - sum_k q_k z_k),  q_k = (1 - eps) [k == label] + eps / K
__global__ void softmax_xent_forward_kernel(View logits, View labels, View weights, double eps, View probs,
                                            View losses) {
  __shared__ double shared[kLossThreads];
  const i64 n = blockIdx.x, K = logits.c;
  const i64 base = n * K;
  const int label = static_cast<int>(load(labels.data, labels.dtype, n));

  double m = -INFINITY;
  for (i64 k = threadIdx.x; k < K; k += blockDim.x) m = fmax(m, load(logits.data, logits.dtype, base + k));
  m = block_reduce<true>(m, shared);

  double s = 0.0, zsum = 0.0;
  for (i64 k = threadIdx.x; k < K; k += blockDim.x) {
    const double z = load(logits.data, logits.dtype, base + k);
    s += exp(z - m);
    zsum += z;
  }
  s = block_reduce<false>(s, shared);
  zsum = block_reduce<false>(zsum, shared);

  for (i64 k = threadIdx.x; k < K; k += blockDim.x)
    store(probs.data, probs.dtype, base + k, exp(load(logits.data, logits.dtype, base + k) - m) / s);
  if (threadIdx.x == 0) {
    double loss = NAN;  // an out-of-range label makes the loss NaN rather than reading out of bounds
    if (label >= 0 && label < K) {
      const double zl = load(logits.data, logits.dtype, base + label);
      const double qz = (1.0 - eps) * zl + eps / static_cast<double>(K) * zsum;
      const double w = weights.data != nullptr ? load(weights.data, weights.dtype, label) : 1.0;
      loss = w * (m + log(s) - qz);
    }
    store(losses.data, losses.dtype, n, loss);
  }
}

__global__ void softmax_xent_backward_kernel(View probs, View labels, View weights, double eps, double scale,
                                             View dlogits) {
  const i64 K = probs.c;
  CBEDNET_GRID_STRIDE(i, dlogits.count()) {
    const i64 n = i / K, k = i % K;
    const int label = static_cast<int>(load(labels.data, labels.dtype, n));
    double g = NAN;
    if (label >= 0 && label < K) {
      const double q = (k == label ? 1.0 - eps : 0.0) + eps / static_cast<double>(K);
      const double w = weights.data != nullptr ? load(weights.data, weights.dtype, label) : 1.0;
      g = scale * w * (load(probs.data, probs.dtype, i) - q);
    }
    store(dlogits.data, dlogits.dtype, i, g);
  }
}

// One block for the whole batch, so that the result does not depend on scheduling: thread t takes the samples
// t, t + blockDim, ... in order (each row's first largest probability, argmax_rows's tie rule), then the block's
// fixed-order tree reduction (block_reduce) adds the threads' partial sums. stats += (loss sum, correct count).
__global__ void loss_statistics_kernel(View probs, View losses, View labels, View stats) {
  __shared__ double shared[kLossThreads];
  const i64 N = probs.n, K = probs.c;
  double loss_sum = 0.0, correct = 0.0;
  for (i64 n = threadIdx.x; n < N; n += blockDim.x) {
    loss_sum += load(losses.data, losses.dtype, n);
    i64 best = 0;
    double best_p = load(probs.data, probs.dtype, n * K);
    for (i64 k = 1; k < K; ++k) {
      const double p = load(probs.data, probs.dtype, n * K + k);
      if (best_p < p) {
        best_p = p;
        best = k;
      }
    }
    if (best == static_cast<i64>(load(labels.data, labels.dtype, n))) correct += 1.0;
  }
  loss_sum = block_reduce<false>(loss_sum, shared);
  correct = block_reduce<false>(correct, shared);
  if (threadIdx.x == 0) {
    store(stats.data, stats.dtype, 0, load(stats.data, stats.dtype, 0) + loss_sum);
    store(stats.data, stats.dtype, 1, load(stats.data, stats.dtype, 1) + correct);
  }
}

// PyTorch SGD (dampening 0) on element i: g = gs*grad + wd*param; v = mu*v + g; param -= lr*(nesterov ? g + mu*v : v).
// Explicit roundings (no contraction left to the compiler), so that both kernels below give the same bits.
__device__ __forceinline__ void sgd_element(const View& param, const View& grad, const View& mom, i64 i, double lr,
                                            double mu, double wd, bool nesterov, double gs) {
  const double p = load(param.data, param.dtype, i);
  const double g = __fma_rn(wd, p, __dmul_rn(gs, load(grad.data, grad.dtype, i)));
  const double v = __fma_rn(mu, load(mom.data, mom.dtype, i), g);
  store(mom.data, mom.dtype, i, v);
  store(param.data, param.dtype, i, __fma_rn(-lr, nesterov ? __fma_rn(mu, v, g) : v, p));
}

__global__ void sgd_kernel(View param, View grad, View mom, double lr, double mu, double wd, bool nesterov, double gs) {
  CBEDNET_GRID_STRIDE(i, param.count()) sgd_element(param, grad, mom, i, lr, mu, wd, nesterov, gs);
}

__global__ void sgd_segments_kernel(View param, View grad, View mom, const __grid_constant__ SegmentBatch segments,
                                    double lr, double mu, double wd, bool nesterov, double gs) {
  CBEDNET_GRID_STRIDE(i, segments.packed_start[segments.count]) {
    const int s = segment_of(segments, i);
    sgd_element(param, grad, mom, segments.offset[s] + (i - segments.packed_start[s]), lr, mu,
                segments.decayed[s] ? wd : 0.0, nesterov, gs);
  }
}

// ---- kernel launchers -------------------------------------------------------------------------------------

void softmax_xent_forward(const View& logits, const View& labels, const View* weights, double smoothing,
                          const View& probs, const View& losses, cudaStream_t stream, const char* op) {
  if (logits.n == 0) return;
  softmax_xent_forward_kernel<<<static_cast<unsigned>(logits.n), kLossThreads, 0, stream>>>(
      logits, labels, weights ? *weights : View{}, smoothing, probs, losses);
  CBEDNET_CHECK_LAUNCH(op, "softmax_xent_forward_kernel");
}

void loss_statistics(const View& probs, const View& losses, const View& labels, const View& stats, cudaStream_t stream,
                     const char* op) {
  if (probs.n == 0) return;
  loss_statistics_kernel<<<1, kLossThreads, 0, stream>>>(probs, losses, labels, stats);
  CBEDNET_CHECK_LAUNCH(op, "loss_statistics_kernel");
}

void softmax_xent_backward(const View& probs, const View& labels, const View* weights, double smoothing, double scale,
                           const View& dlogits, cudaStream_t stream, const char* op) {
  if (dlogits.count() == 0) return;
  softmax_xent_backward_kernel<<<blocks_for(dlogits.count()), kThreads, 0, stream>>>(
      probs, labels, weights ? *weights : View{}, smoothing, scale, dlogits);
  CBEDNET_CHECK_LAUNCH(op, "softmax_xent_backward_kernel");
}

void sgd_update(const View& param, const View& grad, const View& momentum, double lr, double mu, double wd,
                bool nesterov, double grad_scale, cudaStream_t stream, const char* op) {
  if (param.count() == 0) return;
  sgd_kernel<<<blocks_for(param.count()), kThreads, 0, stream>>>(param, grad, momentum, lr, mu, wd, nesterov,
                                                                 grad_scale);
  CBEDNET_CHECK_LAUNCH(op, "sgd_kernel");
}

void sgd_update_segments(const View& param, const View& grad, const View& momentum, const SegmentBatch& segments,
                         double lr, double mu, double wd, bool nesterov, double grad_scale, cudaStream_t stream,
                         const char* op) {
  const i64 count = segments.packed_start[segments.count];
  if (count == 0) return;
  sgd_segments_kernel<<<blocks_for(count), kThreads, 0, stream>>>(param, grad, momentum, segments, lr, mu, wd, nesterov,
                                                                  grad_scale);
  CBEDNET_CHECK_LAUNCH(op, "sgd_segments_kernel");
}

}  // namespace cbednet::cuda
