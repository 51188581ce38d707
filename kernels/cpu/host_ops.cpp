#include "kernels/cpu/host_ops.hpp"

#include <omp.h>

#include <cstdint>
#include <cstring>

namespace cbednet::cpu {
namespace {

// Elementwise loops are only worth a thread team when they are long.
constexpr std::int64_t parallel_threshold = 1 << 15;

int team(int threads, std::int64_t n) {
  if (n < parallel_threshold) return 1;
  return threads > 0 ? threads : omp_get_max_threads();
}

void require_host(const Tensor& t, const char* op, const char* name) {
  if (t.device() != Device::host)
    throw_error<InvalidArgument>(op, ": ", name, " is not a host tensor (", t.describe(), ")");
}

template <typename Src, typename Dst>
void convert_same_layout(const Src* src, Dst* dst, std::int64_t n, int threads) {
#pragma omp parallel for schedule(static) num_threads(team(threads, n))
  for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(src[i]);
}

// Layout conversion walks the destination in memory order and gathers from the source.
template <typename Src, typename Dst>
void convert_layout(const Tensor& src, Tensor& dst, int threads) {
  const Src* s = static_cast<const Src*>(src.raw());
  Dst* d = static_cast<Dst*>(dst.raw());
  const Shape sh = dst.shape();
#pragma omp parallel for collapse(2) schedule(static) num_threads(team(threads, sh.count()))
  for (std::int64_t n = 0; n < sh.n; ++n)
    for (std::int64_t c = 0; c < sh.c; ++c)
      for (std::int64_t h = 0; h < sh.h; ++h)
        for (std::int64_t w = 0; w < sh.w; ++w) d[dst.index(n, c, h, w)] = static_cast<Dst>(s[src.index(n, c, h, w)]);
}

template <typename Src, typename Dst>
void convert(const Tensor& src, Tensor& dst, int threads) {
  if (src.layout() == dst.layout() || (src.shape().c == 1 || src.shape().h * src.shape().w == 1))
    convert_same_layout(static_cast<const Src*>(src.raw()), static_cast<Dst*>(dst.raw()), src.count(), threads);
  else
    convert_layout<Src, Dst>(src, dst, threads);
}

// Raw element copies for dtypes without arithmetic here (bf16, f16, i32): same dtype only.
template <std::size_t Bytes>
struct Raw {
  unsigned char b[Bytes];
};

}  // namespace

Tensor host_allocate(Shape shape, DType dtype, Layout layout) { return Tensor(shape, dtype, layout); }

void host_copy(const Tensor& src, Tensor& dst, int threads) {
  require_host(src, "copy", "source");
  require_host(dst, "copy", "destination");
  if (src.shape() != dst.shape())
    throw_error<ShapeError>("copy: source ", src.shape().str(), " does not match destination ", dst.shape().str());
  if (src.count() == 0) return;
  const bool same_layout = src.layout() == dst.layout() || src.shape().c == 1 || src.shape().h * src.shape().w == 1;
  if (src.dtype() == dst.dtype()) {
    if (same_layout) {
      if (src.raw() != dst.raw()) std::memmove(dst.raw(), src.raw(), src.bytes());
      return;
    }
    switch (dtype_size(src.dtype())) {
      case 8:
        return convert_layout<Raw<8>, Raw<8>>(src, dst, threads);
      case 4:
        return convert_layout<Raw<4>, Raw<4>>(src, dst, threads);
      case 2:
        return convert_layout<Raw<2>, Raw<2>>(src, dst, threads);
      default:
        break;
    }
  } else if (src.dtype() == DType::f64 && dst.dtype() == DType::f32) {
    return convert<double, float>(src, dst, threads);
  } else if (src.dtype() == DType::f32 && dst.dtype() == DType::f64) {
    return convert<float, double>(src, dst, threads);
  }
  throw_error<InvalidArgument>("copy: conversion from ", src.describe(), " to ", dst.describe(),
                               " is not supported on the host (f64 <-> f32 only)");
}

namespace {
template <typename T>
void fill_typed(T* d, std::int64_t n, T v, int threads) {
#pragma omp parallel for schedule(static) num_threads(team(threads, n))
  for (std::int64_t i = 0; i < n; ++i) d[i] = v;
}
template <typename T>
void axpy_typed(T alpha, const T* x, T* y, std::int64_t n, int threads) {
#pragma omp parallel for schedule(static) num_threads(team(threads, n))
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
template <typename T>
void scale_typed(T* d, std::int64_t n, T alpha, int threads) {
#pragma omp parallel for schedule(static) num_threads(team(threads, n))
  for (std::int64_t i = 0; i < n; ++i) d[i] *= alpha;
}
}  // namespace

void host_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments, int threads) {
  for (const FlatSegment& s : segments) {
    if (s.count == 0) continue;
    const Shape run{1, s.count, 1, 1};
    Tensor to = dst.view(run, s.offset);
    host_copy(src.view(run, s.offset), to, threads);
  }
}

void host_fill(Tensor& t, double value, int threads) {
  require_host(t, "fill", "tensor");
  switch (t.dtype()) {
    case DType::f64:
      return fill_typed(t.data<double>(), t.count(), value, threads);
    case DType::f32:
      return fill_typed(t.data<float>(), t.count(), static_cast<float>(value), threads);
    case DType::i32:
      return fill_typed(t.data<std::int32_t>(), t.count(), static_cast<std::int32_t>(value), threads);
    default:
      throw_error<InvalidArgument>("fill: unsupported tensor ", t.describe(), " (f64, f32 or i32)");
  }
}

void host_axpy(double alpha, const Tensor& x, Tensor& y, int threads) {
  require_host(x, "axpy", "x");
  require_host(y, "axpy", "y");
  if (x.shape() != y.shape() || x.dtype() != y.dtype() || x.layout() != y.layout())
    throw_error<ShapeError>("axpy: x ", x.describe(), " does not match y ", y.describe());
  switch (x.dtype()) {
    case DType::f64:
      return axpy_typed(alpha, x.data<double>(), y.data<double>(), x.count(), threads);
    case DType::f32:
      return axpy_typed(static_cast<float>(alpha), x.data<float>(), y.data<float>(), x.count(), threads);
    default:
      throw_error<InvalidArgument>("axpy: unsupported tensor ", x.describe(), " (f64 or f32)");
  }
}

void host_scale(Tensor& t, double alpha, int threads) {
  require_host(t, "scale", "tensor");
  switch (t.dtype()) {
    case DType::f64:
      return scale_typed(t.data<double>(), t.count(), alpha, threads);
    case DType::f32:
      return scale_typed(t.data<float>(), t.count(), static_cast<float>(alpha), threads);
    default:
      throw_error<InvalidArgument>("scale: unsupported tensor ", t.describe(), " (f64 or f32)");
  }
}

}  // namespace cbednet::cpu
