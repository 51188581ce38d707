// Convolution on the CPU: im2col + GEMM (forward, backward-filter) and GEMM + col2im (backward-data).
//
// A chunk of nb samples is unfolded into col [C*R*S, nb*P*Q] (row (c*R + r)*S + s, column n*P*Q + p*Q + q)
// so that one large GEMM covers the chunk: even the last ResNet stages (P*Q = 16) give OpenBLAS wide
// matrices. 1x1 stride-1 unpadded convolutions need no unfolding: x_n [C, H*W] is already the column matrix.
#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/cpu/cpu_gemm.hpp"
#include "kernels/cpu/cpu_kernels.hpp"

namespace cbednet::cpu {
namespace {

using i64 = std::int64_t;

// [first, last): the output positions o in [0, out) whose input o * stride - pad + k lies inside [0, in).
std::pair<i64, i64> valid_range(i64 out, i64 in, i64 stride, i64 pad, i64 k) {
  const i64 low = pad - k;            // need o * stride >= low
  const i64 high = in - 1 + pad - k;  // need o * stride <= high
  const i64 first = std::min(out, low <= 0 ? i64{0} : (low + stride - 1) / stride);
  const i64 last = std::clamp(high < 0 ? i64{0} : high / stride + 1, first, out);
  return {first, last};
}

struct Dims {
  i64 n, c, h, w, k, r, s, p, q, stride, pad;
  i64 hw() const { return h * w; }
  i64 pq() const { return p * q; }
  i64 crs() const { return c * r * s; }
  bool direct() const { return r == 1 && s == 1 && stride == 1 && pad == 0; }
};

Dims dims(const Shape& x, const Shape& y, const ConvGeometry& g) {
  return {x.n, x.c, x.h, x.w, y.c, g.kernel_h, g.kernel_w, y.h, y.w, g.stride, g.pad};
}

// Samples per chunk: enough for a GEMM about `wide` columns wide (wider gains little, and one sample per chunk
// lets GEMM read and write the tensors in place), but never an im2col buffer over the workspace limit.
i64 chunk_size(const Dims& d, i64 limit) {
  constexpr i64 wide = 2048;
  const i64 most = std::clamp(limit / std::max<i64>(1, d.crs() * d.pq()), i64{1}, std::max<i64>(1, d.n));
  return std::min(most, (wide + d.pq() - 1) / std::max<i64>(1, d.pq()));
}

// x: the chunk's first sample [nb, C, H, W] -> col [C*R*S, nb*P*Q].
template <typename T>
void im2col(const T* x, i64 nb, const Dims& d, T* col, int team) {
  const i64 ld = nb * d.pq(), rows = d.crs();
#pragma omp parallel for collapse(2) schedule(static) num_threads(team)
  for (i64 row = 0; row < rows; ++row)
    for (i64 n = 0; n < nb; ++n) {
      const i64 c = row / (d.r * d.s), r = (row / d.s) % d.r, s = row % d.s;
      const T* plane = x + (n * d.c + c) * d.hw();
      T* dst = col + row * ld + n * d.pq();
      const auto [q0, q1] = valid_range(d.q, d.w, d.stride, d.pad, s);
      for (i64 p = 0; p < d.p; ++p) {
        T* out = dst + p * d.q;
        const i64 h = p * d.stride - d.pad + r;
        if (h < 0 || h >= d.h) {
          std::fill(out, out + d.q, T{0});
          continue;
        }
        const T* in = plane + h * d.w;
        std::fill(out, out + q0, T{0});
        if (d.stride == 1) {
          std::memcpy(out + q0, in + q0 - d.pad + s, static_cast<std::size_t>(q1 - q0) * sizeof(T));
        } else {
          for (i64 q = q0; q < q1; ++q) out[q] = in[q * d.stride - d.pad + s];
        }
        std::fill(out + q1, out + d.q, T{0});
      }
    }
}

// col [C*R*S, nb*P*Q] -> dx for the chunk's samples [nb, C, H, W] (overwritten). Each (n, c) plane is owned
// by one thread and summed in a fixed order.
template <typename T>
void col2im(const T* col, i64 nb, const Dims& d, T* dx, int team) {
  const i64 ld = nb * d.pq();
#pragma omp parallel for collapse(2) schedule(static) num_threads(team)
  for (i64 n = 0; n < nb; ++n)
    for (i64 c = 0; c < d.c; ++c) {
      T* plane = dx + (n * d.c + c) * d.hw();
      std::fill(plane, plane + d.hw(), T{0});
      for (i64 r = 0; r < d.r; ++r) {
        const auto [p0, p1] = valid_range(d.p, d.h, d.stride, d.pad, r);
        for (i64 s = 0; s < d.s; ++s) {
          const auto [q0, q1] = valid_range(d.q, d.w, d.stride, d.pad, s);
          const T* src = col + ((c * d.r + r) * d.s + s) * ld + n * d.pq();
          for (i64 p = p0; p < p1; ++p) {
            T* row = plane + (p * d.stride - d.pad + r) * d.w;
            const T* in = src + p * d.q;
            for (i64 q = q0; q < q1; ++q) row[q * d.stride - d.pad + s] += in[q];
          }
        }
      }
    }
}

// [nb, K, PQ] <-> [K, nb*PQ]
template <typename T>
void batch_to_rows(const T* src, i64 nb, i64 k, i64 pq, T* dst, int team) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(team)
  for (i64 n = 0; n < nb; ++n)
    for (i64 kk = 0; kk < k; ++kk) std::memcpy(dst + kk * nb * pq + n * pq, src + (n * k + kk) * pq, pq * sizeof(T));
}

template <typename T>
void rows_to_batch(const T* src, i64 nb, i64 k, i64 pq, T* dst, int team) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(team)
  for (i64 n = 0; n < nb; ++n)
    for (i64 kk = 0; kk < k; ++kk) std::memcpy(dst + (n * k + kk) * pq, src + kk * nb * pq + n * pq, pq * sizeof(T));
}

// y = act(y + bias [+ residual]) in one pass, in the order the separate bias, add and ReLU passes would round.
template <typename T>
void apply_epilogue(const T* bias, const T* residual, bool relu, i64 n_samples, i64 k, i64 pq, T* y, int team) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(team)
  for (i64 n = 0; n < n_samples; ++n)
    for (i64 kk = 0; kk < k; ++kk) {
      T* row = y + (n * k + kk) * pq;
      const T* res = residual ? residual + (n * k + kk) * pq : nullptr;
      if (bias)
        for (i64 i = 0; i < pq; ++i) row[i] += bias[kk];
      if (res)
        for (i64 i = 0; i < pq; ++i) row[i] += res[i];
      if (relu)
        for (i64 i = 0; i < pq; ++i) row[i] = row[i] > T{0} ? row[i] : T{0};
    }
}

}  // namespace

template <typename T>
void conv2d_forward(Workspace<T>& ws, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const ConvGeometry& g, const ConvEpilogue& epilogue) {
  const Dims d = dims(x.shape(), y.shape(), g);
  const T* xd = x.data<T>();
  const T* wd = w.data<T>();
  T* yd = y.data<T>();
  const int team = ws.team(d.n * d.c, d.n * d.crs() * d.pq());
  if (d.direct()) {
    for (i64 n = 0; n < d.n; ++n)  // y_n [K, HW] = w [K, C] x_n [C, HW]
      gemm(false, false, d.k, d.hw(), d.c, T{1}, wd, d.c, xd + n * d.c * d.hw(), d.hw(), T{0}, yd + n * d.k * d.hw(),
           d.hw());
  } else {
    const i64 chunk = chunk_size(d, ws.col_limit);
    for (i64 n0 = 0; n0 < d.n; n0 += chunk) {
      const i64 nb = std::min(chunk, d.n - n0), cols = nb * d.pq();
      T* col = ws.col_buffer(d.crs() * cols);
      im2col(xd + n0 * d.c * d.hw(), nb, d, col, team);
      T* out = yd + n0 * d.k * d.pq();
      T* rows = nb == 1 ? out : ws.tmp_buffer(d.k * cols);  // one sample: GEMM writes y_n [K, PQ] in place
      gemm(false, false, d.k, cols, d.crs(), T{1}, wd, d.crs(), col, cols, T{0}, rows, cols);
      if (nb > 1) rows_to_batch(rows, nb, d.k, d.pq(), out, team);
    }
  }
  if (bias || epilogue.residual || epilogue.relu)
    apply_epilogue(bias ? bias->data<T>() : nullptr, epilogue.residual ? epilogue.residual->data<T>() : nullptr,
                   epilogue.relu, d.n, d.k, d.pq(), yd, ws.team(d.n * d.k, d.n * d.k * d.pq()));
}

template <typename T>
void conv2d_backward_data(Workspace<T>& ws, const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g) {
  const Dims d = dims(dx.shape(), dy.shape(), g);
  const T* dyd = dy.data<T>();
  const T* wd = w.data<T>();
  T* dxd = dx.data<T>();
  const int team = ws.team(d.n * d.c, d.n * d.crs() * d.pq());
  if (d.direct()) {
    for (i64 n = 0; n < d.n; ++n)  // dx_n [C, HW] = w^T [C, K] dy_n [K, HW]
      gemm(true, false, d.c, d.hw(), d.k, T{1}, wd, d.c, dyd + n * d.k * d.hw(), d.hw(), T{0}, dxd + n * d.c * d.hw(),
           d.hw());
    return;
  }
  const i64 chunk = chunk_size(d, ws.col_limit);
  for (i64 n0 = 0; n0 < d.n; n0 += chunk) {
    const i64 nb = std::min(chunk, d.n - n0), cols = nb * d.pq();
    const T* grad = dyd + n0 * d.k * d.pq();
    const T* rows = grad;
    if (nb > 1) {
      T* tmp = ws.tmp_buffer(d.k * cols);
      batch_to_rows(grad, nb, d.k, d.pq(), tmp, team);
      rows = tmp;
    }
    T* col = ws.col_buffer(d.crs() * cols);  // col [CRS, nb*PQ] = w^T [CRS, K] dy [K, nb*PQ]
    gemm(true, false, d.crs(), cols, d.k, T{1}, wd, d.crs(), rows, cols, T{0}, col, cols);
    col2im(col, nb, d, dxd + n0 * d.c * d.hw(), team);
  }
}

template <typename T>
void conv2d_backward_filter(Workspace<T>& ws, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                            const ConvGeometry& g, GradMode mode) {
  const Dims d = dims(x.shape(), dy.shape(), g);
  const T* xd = x.data<T>();
  const T* dyd = dy.data<T>();
  T* dwd = dw.data<T>();
  const int team = ws.team(d.n * d.c, d.n * d.crs() * d.pq());
  bool first = mode == GradMode::overwrite;
  if (d.n == 0 && first) std::fill(dwd, dwd + dw.count(), T{0});
  if (d.direct()) {
    for (i64 n = 0; n < d.n; ++n, first = false)  // dw [K, C] (+)= dy_n [K, HW] x_n^T [HW, C]
      gemm(false, true, d.k, d.c, d.hw(), T{1}, dyd + n * d.k * d.hw(), d.hw(), xd + n * d.c * d.hw(), d.hw(),
           first ? T{0} : T{1}, dwd, d.c);
  } else {
    const i64 chunk = chunk_size(d, ws.col_limit);
    for (i64 n0 = 0; n0 < d.n; n0 += chunk, first = false) {
      const i64 nb = std::min(chunk, d.n - n0), cols = nb * d.pq();
      T* col = ws.col_buffer(d.crs() * cols);
      im2col(xd + n0 * d.c * d.hw(), nb, d, col, team);
      const T* grad = dyd + n0 * d.k * d.pq();
      const T* rows = grad;
      if (nb > 1) {
        T* tmp = ws.tmp_buffer(d.k * cols);
        batch_to_rows(grad, nb, d.k, d.pq(), tmp, team);
        rows = tmp;
      }
      // dw [K, CRS] (+)= dy [K, nb*PQ] col^T [nb*PQ, CRS]
      gemm(false, true, d.k, d.crs(), cols, T{1}, rows, cols, col, cols, first ? T{0} : T{1}, dwd, d.crs());
    }
  }
  if (dbias) {
    T* db = dbias->data<T>();
#pragma omp parallel for schedule(static) num_threads(ws.team(d.k, d.n* d.k* d.pq()))
    for (i64 k = 0; k < d.k; ++k) {
      double sum = 0.0;
      for (i64 n = 0; n < d.n; ++n) {
        const T* row = dyd + (n * d.k + k) * d.pq();
        for (i64 i = 0; i < d.pq(); ++i) sum += row[i];
      }
      db[k] = static_cast<T>(mode == GradMode::accumulate ? db[k] + sum : sum);
    }
  }
}

#define CBEDNET_CONV(T)                                                                                             \
  template void conv2d_forward<T>(Workspace<T>&, const Tensor&, const Tensor&, const Tensor*, Tensor&,              \
                                  const ConvGeometry&, const ConvEpilogue&);                                        \
  template void conv2d_backward_data<T>(Workspace<T>&, const Tensor&, const Tensor&, Tensor&, const ConvGeometry&); \
  template void conv2d_backward_filter<T>(Workspace<T>&, const Tensor&, const Tensor&, Tensor&, Tensor*,            \
                                          const ConvGeometry&, GradMode);
CBEDNET_CPU_INSTANTIATE(CBEDNET_CONV)
#undef CBEDNET_CONV

}  // namespace cbednet::cpu
