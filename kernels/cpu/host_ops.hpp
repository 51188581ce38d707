// Memory operations on host tensors, shared by the CPU backends: allocation, copy with dtype (f64 <-> f32)
// and layout (NCHW <-> NHWC) conversion, fill, axpy and scale.
#pragma once

#include <span>

#include "core/tensor.hpp"
#include "kernels/backend.hpp"

namespace cbednet::cpu {

// Zero-filled host tensor.
Tensor host_allocate(Shape shape, DType dtype, Layout layout);

// dst = src. Both on the host with equal shapes; dtypes equal or f64 <-> f32; any layouts.
// `threads` > 1 spreads large copies over OpenMP threads (each element is written once, so any count gives
// the same bits).
void host_copy(const Tensor& src, Tensor& dst, int threads = 1);

// dst = src (as host_copy) on each segment of two flat buffers of equal shape and layout.
void host_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments, int threads = 1);

// t = value (f64, f32 or i32).
void host_fill(Tensor& t, double value, int threads = 1);

// y += alpha * x; same shape, dtype (f64 or f32) and layout.
void host_axpy(double alpha, const Tensor& x, Tensor& y, int threads = 1);

// t *= alpha (f64 or f32).
void host_scale(Tensor& t, double alpha, int threads = 1);

}  // namespace cbednet::cpu
