// Device-side helpers shared by the .cu files: dtype-generic loads and stores, layout offsets, launch sizes.
// Loads and stores dispatch on the dtype at run time: the switch is uniform across a launch, and these kernels
// are bound by memory traffic, so one kernel per operation serves every dtype (short nvcc builds).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/kernels.hpp"

namespace cbednet::cuda {

using i64 = std::int64_t;

__device__ __forceinline__ double load(const void* p, DType dt, i64 i) {
  switch (dt) {
    case DType::f32:
      return static_cast<const float*>(p)[i];
    case DType::bf16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::f16:
      return __half2float(static_cast<const __half*>(p)[i]);
    case DType::f64:
      return static_cast<const double*>(p)[i];
    case DType::i32:
      return static_cast<const std::int32_t*>(p)[i];
  }
  return 0.0;
}

__device__ __forceinline__ float loadf(const void* p, DType dt, i64 i) {
  switch (dt) {
    case DType::f32:
      return static_cast<const float*>(p)[i];
    case DType::bf16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::f16:
      return __half2float(static_cast<const __half*>(p)[i]);
    case DType::f64:
      return static_cast<float>(static_cast<const double*>(p)[i]);
    case DType::i32:
      return static_cast<float>(static_cast<const std::int32_t*>(p)[i]);
  }
  return 0.0f;
}

__device__ __forceinline__ void store(void* p, DType dt, i64 i, double v) {
  switch (dt) {
    case DType::f32:
      static_cast<float*>(p)[i] = static_cast<float>(v);
      return;
    case DType::bf16:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(static_cast<float>(v));
      return;
    case DType::f16:
      static_cast<__half*>(p)[i] = __float2half_rn(static_cast<float>(v));
      return;
    case DType::f64:
      static_cast<double*>(p)[i] = v;
      return;
    case DType::i32:
      static_cast<std::int32_t*>(p)[i] = static_cast<std::int32_t>(rint(v));
      return;
  }
}

__device__ __forceinline__ void storef(void* p, DType dt, i64 i, float v) {
  switch (dt) {
    case DType::f32:
      static_cast<float*>(p)[i] = v;
      return;
    case DType::bf16:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
      return;
    case DType::f16:
      static_cast<__half*>(p)[i] = __float2half_rn(v);
      return;
    case DType::f64:
      static_cast<double*>(p)[i] = v;
      return;
    case DType::i32:
      static_cast<std::int32_t*>(p)[i] = static_cast<std::int32_t>(rintf(v));
      return;
  }
}

// Element offset of logical (n, c, h, w) in v's layout.
__device__ __forceinline__ i64 offset(const View& v, i64 n, i64 c, i64 h, i64 w) {
  return v.layout == Layout::nchw ? ((n * v.c + c) * v.h + h) * v.w + w : ((n * v.h + h) * v.w + w) * v.c + c;
}

// Logical coordinates of memory index i in v's layout.
struct Coord {
  i64 n, c, h, w;
};
__device__ __forceinline__ Coord coord(const View& v, i64 i) {
  Coord k{};
  if (v.layout == Layout::nchw) {
    k.w = i % v.w;
    i /= v.w;
    k.h = i % v.h;
    i /= v.h;
    k.c = i % v.c;
    k.n = i / v.c;
  } else {
    k.c = i % v.c;
    i /= v.c;
    k.w = i % v.w;
    i /= v.w;
    k.h = i % v.h;
    k.n = i / v.h;
  }
  return k;
}

// Channel of memory index i (cheaper than coord when only c is needed).
__device__ __forceinline__ i64 channel_of(const View& v, i64 i) {
  return v.layout == Layout::nhwc ? i % v.c : (i / (v.h * v.w)) % v.c;
}

#define CBEDNET_GRID_STRIDE(i, count)                                                \
  for (i64 i = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; i < (count); \
       i += static_cast<i64>(blockDim.x) * gridDim.x)

// The segment holding packed element i of a SegmentBatch: the last s with packed_start[s] <= i (empty segments are
// never packed). Threads of a warp mostly fall in one segment and then read the same table entries (uniform reads of
// the __grid_constant__ parameter).
__device__ __forceinline__ int segment_of(const SegmentBatch& segments, i64 i) {
  int lo = 0, hi = segments.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (segments.packed_start[mid] <= i)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

constexpr int kThreads = 256;
inline unsigned blocks_for(i64 count) {
  // Grid-stride loops cover the rest; 8192 blocks saturate every current GPU.
  return static_cast<unsigned>(std::max<i64>(1, std::min<i64>((count + kThreads - 1) / kThreads, 8192)));
}

}  // namespace cbednet::cuda
