// Kernels of the CUDA multislice engine (cuda_kernels.cu, nvcc), called by cuda_engine.cpp. Complex values are
// interleaved float pairs (cufftComplex); k-space arrays are [ny, nx] row-major (cuFFT's layout). Every launcher
// runs on `stream` and returns after the launch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace cbednet::io::sim::multislice::cuda {

// t[p] = exp(i sigma v[p]).
void launch_transmission(const float* v, float sigma, float2* t, std::size_t n, cudaStream_t stream);
// a[p] = band[p] ? a[p] * scale : 0.
void launch_scale_mask(float2* a, const unsigned char* band, float scale, std::size_t n, cudaStream_t stream);
// waves[b * n + p] *= factor[p] for b < batch.
void launch_multiply_batched(float2* waves, const float2* factor, std::size_t n, std::size_t batch,
                             cudaStream_t stream);
// waves[b * n + p] = band[p] ? waves[b * n + p] : 0.
void launch_mask_batched(float2* waves, const unsigned char* band, std::size_t n, std::size_t batch,
                         cudaStream_t stream);
// waves[b] = probe_k * exp(-2 pi i (kx x_b + ky y_b)) * scale, k-space, for the probe positions (x_b, y_b).
void launch_probe_waves(float2* waves, const float2* probe_k, const double2* positions, int nx, int ny, double lx,
                        double ly, std::size_t batch, float scale, cudaStream_t stream);
// out[(i + ny/2) % ny, (j + nx/2) % nx] = scale * sum_b |waves[b][i, j]|^2, summed over b in order (deterministic).
void launch_accumulate_intensity(const float2* waves, float* out, int nx, int ny, std::size_t batch, float scale,
                                 cudaStream_t stream);

}  // namespace cbednet::io::sim::multislice::cuda
