// Elementwise kernels on the CPU: ReLU, add, dropout and the SGD update. Each element is written by exactly
// one thread from its own inputs, so any thread count gives the same bits.
#include "kernels/cpu/cpu_kernels.hpp"

namespace cbednet::cpu {
namespace {
using i64 = std::int64_t;
template <typename T>
int team_for(const Workspace<T>& ws, i64 n) {
  return ws.team(n, n);
}
}  // namespace

template <typename T>
void relu_forward(const Workspace<T>& ws, const Tensor& x, Tensor& y) {
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const i64 n = x.count();
#pragma omp parallel for schedule(static) num_threads(team_for(ws, n))
  for (i64 i = 0; i < n; ++i) out[i] = in[i] > T{0} ? in[i] : T{0};
}

template <typename T>
void relu_backward(const Workspace<T>& ws, const Tensor& y, const Tensor& dy, Tensor& dx) {
  const T* yd = y.data<T>();
  const T* g = dy.data<T>();
  T* out = dx.data<T>();
  const i64 n = y.count();
#pragma omp parallel for schedule(static) num_threads(team_for(ws, n))
  for (i64 i = 0; i < n; ++i) out[i] = yd[i] > T{0} ? g[i] : T{0};
}

template <typename T>
void add(const Workspace<T>& ws, const Tensor& a, const Tensor& b, Tensor& y) {
  const T* ad = a.data<T>();
  const T* bd = b.data<T>();
  T* out = y.data<T>();
  const i64 n = a.count();
#pragma omp parallel for schedule(static) num_threads(team_for(ws, n))
  for (i64 i = 0; i < n; ++i) out[i] = ad[i] + bd[i];
}

template <typename T>
void multiply(const Workspace<T>& ws, const Tensor& a, const Tensor& b, Tensor& y) {
  const T* ad = a.data<T>();
  const T* bd = b.data<T>();
  T* out = y.data<T>();
  const i64 n = a.count();
#pragma omp parallel for schedule(static) num_threads(team_for(ws, n))
  for (i64 i = 0; i < n; ++i) out[i] = ad[i] * bd[i];
}

// In NCHW the offset of an element within its sample is already c*H*W + h*W + w, as DropoutKey requires.
template <typename T>
void dropout_forward(const Workspace<T>& ws, const Tensor& x, double p, const DropoutKey& key, Tensor& y,
                     Tensor& mask) {
  const T* in = x.data<T>();
  T* out = y.data<T>();
  T* md = mask.data<T>();
  const i64 n = x.count(), per_sample = x.shape().per_sample();
  const T kept = static_cast<T>(1.0 / (1.0 - p));
  // A Philox draw costs about as much as eight adds.
#pragma omp parallel for schedule(static) num_threads(ws.team(n, 8 * n))
  for (i64 i = 0; i < n; ++i) {
    const i64 sample = key.first_sample + i / per_sample;
    const double u = key.stream.uniform(key.step, static_cast<std::uint64_t>(sample * per_sample + i % per_sample));
    md[i] = u >= p ? kept : T{0};
    out[i] = in[i] * md[i];
  }
}

namespace {

// PyTorch SGD (dampening 0) on n elements, in fp64 arithmetic whatever T; weight_decay replaces h's. The one loop
// behind sgd_update and sgd_update_segments, so that both give the same bits.
template <typename T>
void sgd_update_range(const Workspace<T>& ws, T* w, const T* dw, T* v, i64 n, const SgdUpdate& h, double weight_decay) {
#pragma omp parallel for schedule(static) num_threads(team_for(ws, n))
  for (i64 i = 0; i < n; ++i) {
    const double g = h.grad_scale * dw[i] + weight_decay * w[i];
    const double vi = h.momentum * v[i] + g;
    v[i] = static_cast<T>(vi);
    w[i] = static_cast<T>(w[i] - h.lr * (h.nesterov ? g + h.momentum * vi : vi));
  }
}

}  // namespace

template <typename T>
void sgd_update(const Workspace<T>& ws, Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) {
  sgd_update_range(ws, param.data<T>(), grad.data<T>(), momentum.data<T>(), param.count(), h, h.weight_decay);
}

template <typename T>
void sgd_update_segments(const Workspace<T>& ws, Tensor& param, const Tensor& grad, Tensor& momentum,
                         std::span<const FlatSegment> segments, const SgdUpdate& h) {
  T* w = param.data<T>();
  const T* dw = grad.data<T>();
  T* v = momentum.data<T>();
  for (const FlatSegment& s : segments)
    sgd_update_range(ws, w + s.offset, dw + s.offset, v + s.offset, s.count, h, s.decayed ? h.weight_decay : 0.0);
}

#define CBEDNET_ELEMENTWISE(T)                                                                                       \
  template void relu_forward<T>(const Workspace<T>&, const Tensor&, Tensor&);                                        \
  template void relu_backward<T>(const Workspace<T>&, const Tensor&, const Tensor&, Tensor&);                        \
  template void add<T>(const Workspace<T>&, const Tensor&, const Tensor&, Tensor&);                                  \
  template void multiply<T>(const Workspace<T>&, const Tensor&, const Tensor&, Tensor&);                             \
  template void dropout_forward<T>(const Workspace<T>&, const Tensor&, double, const DropoutKey&, Tensor&, Tensor&); \
  template void sgd_update<T>(const Workspace<T>&, Tensor&, const Tensor&, Tensor&, const SgdUpdate&);               \
  template void sgd_update_segments<T>(const Workspace<T>&, Tensor&, const Tensor&, Tensor&,                         \
                                       std::span<const FlatSegment>, const SgdUpdate&);
CBEDNET_CPU_INSTANTIATE(CBEDNET_ELEMENTWISE)
#undef CBEDNET_ELEMENTWISE

}  // namespace cbednet::cpu
