// Pooling, fully connected layers (OpenBLAS GEMM) and the softmax cross-entropy loss on the CPU.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_gemm.hpp"
#include "kernels/cpu/cpu_kernels.hpp"

namespace cbednet::cpu {
namespace {

using i64 = std::int64_t;

// Offset within its H x W plane of the first maximum (row-major) of output (p, q)'s window, skipping padding.
template <typename T>
i64 window_argmax(const T* plane, i64 h, i64 w, i64 p, i64 q, const PoolGeometry& g) {
  const i64 h0 = p * g.stride - g.pad, w0 = q * g.stride - g.pad;
  const i64 hb = std::max<i64>(h0, 0), he = std::min<i64>(h0 + g.kernel, h);
  const i64 wb = std::max<i64>(w0, 0), we = std::min<i64>(w0 + g.kernel, w);
  i64 best = hb * w + wb;
  for (i64 i = hb; i < he; ++i)
    for (i64 j = wb; j < we; ++j)
      if (plane[i * w + j] > plane[best]) best = i * w + j;
  return best;
}

double target(i64 k, i64 label, i64 classes, double eps) {
  return eps / static_cast<double>(classes) + (k == label ? 1.0 - eps : 0.0);
}

}  // namespace

template <typename T>
void maxpool_forward(const Workspace<T>& ws, const Tensor& x, Tensor& y, const PoolGeometry& g) {
  const Shape xs = x.shape(), ys = y.shape();
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(xs.n* xs.c, xs.count()))
  for (i64 plane = 0; plane < xs.n * xs.c; ++plane) {
    const T* in = xd + plane * xs.h * xs.w;
    T* out = yd + plane * ys.h * ys.w;
    for (i64 p = 0; p < ys.h; ++p)
      for (i64 q = 0; q < ys.w; ++q) out[p * ys.w + q] = in[window_argmax(in, xs.h, xs.w, p, q, g)];
  }
}

template <typename T>
void maxpool_backward(const Workspace<T>& ws, const Tensor& x, const Tensor& dy, Tensor& dx, const PoolGeometry& g) {
  const Shape xs = x.shape(), ys = dy.shape();
  const T* xd = x.data<T>();
  const T* dyd = dy.data<T>();
  T* dxd = dx.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(xs.n* xs.c, xs.count()))
  for (i64 plane = 0; plane < xs.n * xs.c; ++plane) {
    const T* in = xd + plane * xs.h * xs.w;
    const T* grad = dyd + plane * ys.h * ys.w;
    T* out = dxd + plane * xs.h * xs.w;
    std::fill(out, out + xs.h * xs.w, T{0});
    for (i64 p = 0; p < ys.h; ++p)
      for (i64 q = 0; q < ys.w; ++q) out[window_argmax(in, xs.h, xs.w, p, q, g)] += grad[p * ys.w + q];
  }
}

template <typename T>
void global_avgpool_forward(const Workspace<T>& ws, const Tensor& x, Tensor& y) {
  const Shape s = x.shape();
  const i64 hw = s.h * s.w;
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(s.n* s.c, s.count()))
  for (i64 plane = 0; plane < s.n * s.c; ++plane) {
    double sum = 0.0;
    for (i64 i = 0; i < hw; ++i) sum += xd[plane * hw + i];
    yd[plane] = static_cast<T>(sum / static_cast<double>(hw));
  }
}

template <typename T>
void global_avgpool_backward(const Workspace<T>& ws, const Tensor& dy, Tensor& dx) {
  const Shape s = dx.shape();
  const i64 hw = s.h * s.w;
  const T* dyd = dy.data<T>();
  T* dxd = dx.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(s.n* s.c, s.count()))
  for (i64 plane = 0; plane < s.n * s.c; ++plane) {
    const T v = static_cast<T>(dyd[plane] / static_cast<double>(hw));
    std::fill(dxd + plane * hw, dxd + (plane + 1) * hw, v);
  }
}

template <typename T>
void linear_forward(const Workspace<T>&, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  const i64 n = x.shape().n, c = x.shape().c, k = w.shape().n;
  T* yd = y.data<T>();
  gemm(false, true, n, k, c, T{1}, x.data<T>(), c, w.data<T>(), c, T{0}, yd, k);  // y [N,K] = x [N,C] w^T
  if (b) {
    const T* bd = b->data<T>();
    for (i64 i = 0; i < n; ++i)
      for (i64 j = 0; j < k; ++j) yd[i * k + j] += bd[j];
  }
}

template <typename T>
void linear_backward_data(const Workspace<T>&, const Tensor& dy, const Tensor& w, Tensor& dx) {
  const i64 n = dy.shape().n, k = w.shape().n, c = w.shape().c;
  gemm(false, false, n, c, k, T{1}, dy.data<T>(), k, w.data<T>(), c, T{0}, dx.data<T>(), c);  // dx = dy w
}

template <typename T>
void linear_backward_weights(const Workspace<T>&, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                             GradMode mode) {
  const i64 n = x.shape().n, c = x.shape().c, k = dy.shape().c;
  const bool acc = mode == GradMode::accumulate;
  const T* dyd = dy.data<T>();
  T* dwd = dw.data<T>();
  if (n == 0 && !acc) std::fill(dwd, dwd + dw.count(), T{0});
  // dw [K,C] (+)= dy^T [K,N] x [N,C]
  gemm(true, false, k, c, n, T{1}, dyd, k, x.data<T>(), c, acc ? T{1} : T{0}, dwd, c);
  if (db) {
    T* dbd = db->data<T>();
    for (i64 j = 0; j < k; ++j) {
      double sum = 0.0;
      for (i64 i = 0; i < n; ++i) sum += dyd[i * k + j];
      dbd[j] = static_cast<T>(acc ? dbd[j] + sum : sum);
    }
  }
}

template <typename T>
void softmax_cross_entropy_forward(const Workspace<T>& ws, const Tensor& logits, const Tensor& labels,
                                   const Tensor* class_weights, double label_smoothing, Tensor& probs, Tensor& losses) {
  const i64 n = logits.shape().n, k = logits.shape().c;
  const T* ld = logits.data<T>();
  const std::int32_t* label = labels.data<std::int32_t>();
  const T* cw = class_weights ? class_weights->data<T>() : nullptr;
  T* pd = probs.data<T>();
  T* loss = losses.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(n, n* k))
  for (i64 i = 0; i < n; ++i) {
    const T* row = ld + i * k;
    const double top = *std::max_element(row, row + k);
    double sum = 0.0;
    for (i64 j = 0; j < k; ++j) sum += std::exp(row[j] - top);
    const double log_sum = std::log(sum);
    double l = 0.0;
    for (i64 j = 0; j < k; ++j) {
      const double log_p = row[j] - top - log_sum;
      pd[i * k + j] = static_cast<T>(std::exp(log_p));
      l -= target(j, label[i], k, label_smoothing) * log_p;
    }
    loss[i] = static_cast<T>((cw ? static_cast<double>(cw[label[i]]) : 1.0) * l);
  }
}

template <typename T>
void softmax_cross_entropy_backward(const Workspace<T>& ws, const Tensor& probs, const Tensor& labels,
                                    const Tensor* class_weights, double label_smoothing, double scale,
                                    Tensor& dlogits) {
  const i64 n = probs.shape().n, k = probs.shape().c;
  const T* pd = probs.data<T>();
  const std::int32_t* label = labels.data<std::int32_t>();
  const T* cw = class_weights ? class_weights->data<T>() : nullptr;
  T* out = dlogits.data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(n, n* k))
  for (i64 i = 0; i < n; ++i) {
    const double f = scale * (cw ? static_cast<double>(cw[label[i]]) : 1.0);
    for (i64 j = 0; j < k; ++j)
      out[i * k + j] = static_cast<T>(f * (pd[i * k + j] - target(j, label[i], k, label_smoothing)));
  }
}

#define CBEDNET_POOL_LINEAR_LOSS(T)                                                                                   \
  template void maxpool_forward<T>(const Workspace<T>&, const Tensor&, Tensor&, const PoolGeometry&);                 \
  template void maxpool_backward<T>(const Workspace<T>&, const Tensor&, const Tensor&, Tensor&, const PoolGeometry&); \
  template void global_avgpool_forward<T>(const Workspace<T>&, const Tensor&, Tensor&);                               \
  template void global_avgpool_backward<T>(const Workspace<T>&, const Tensor&, Tensor&);                              \
  template void linear_forward<T>(const Workspace<T>&, const Tensor&, const Tensor&, const Tensor*, Tensor&);         \
  template void linear_backward_data<T>(const Workspace<T>&, const Tensor&, const Tensor&, Tensor&);                  \
  template void linear_backward_weights<T>(const Workspace<T>&, const Tensor&, const Tensor&, Tensor&, Tensor*,       \
                                           GradMode);                                                                 \
  template void softmax_cross_entropy_forward<T>(const Workspace<T>&, const Tensor&, const Tensor&, const Tensor*,    \
                                                 double, Tensor&, Tensor&);                                           \
  template void softmax_cross_entropy_backward<T>(const Workspace<T>&, const Tensor&, const Tensor&, const Tensor*,   \
                                                  double, double, Tensor&);
CBEDNET_CPU_INSTANTIATE(CBEDNET_POOL_LINEAR_LOSS)
#undef CBEDNET_POOL_LINEAR_LOSS

}  // namespace cbednet::cpu
