#include "io/sim/multislice/cuda_kernels.hpp"

namespace cbednet::io::sim::multislice::cuda {
namespace {

constexpr int block = 256;

unsigned grid_for(std::size_t n) { return static_cast<unsigned>((n + block - 1) / block); }

__device__ float2 mul(float2 a, float2 b) { return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }

__global__ void transmission_kernel(const float* v, float sigma, float2* t, std::size_t n) {
  const std::size_t p = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (p >= n) return;
  float s, c;
  sincosf(sigma * v[p], &s, &c);
  t[p] = make_float2(c, s);
}

__global__ void scale_mask_kernel(float2* a, const unsigned char* band, float scale, std::size_t n) {
  const std::size_t p = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (p >= n) return;
  a[p] = band[p] != 0 ? make_float2(a[p].x * scale, a[p].y * scale) : make_float2(0.f, 0.f);
}

__global__ void multiply_batched_kernel(float2* waves, const float2* factor, std::size_t n, std::size_t total) {
  const std::size_t q = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (q >= total) return;
  waves[q] = mul(waves[q], factor[q % n]);
}

__global__ void mask_batched_kernel(float2* waves, const unsigned char* band, std::size_t n, std::size_t total) {
  const std::size_t q = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (q >= total) return;
  if (band[q % n] == 0) waves[q] = make_float2(0.f, 0.f);
}

__global__ void probe_waves_kernel(float2* waves, const float2* probe_k, const double2* positions, int nx, int ny,
                                   double lx, double ly, std::size_t total, float scale) {
  const std::size_t q = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (q >= total) return;
  const std::size_t n = static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny);
  const std::size_t b = q / n, p = q % n;
  const int i = static_cast<int>(p % static_cast<std::size_t>(nx)), j = static_cast<int>(p / nx);
  const double kx = (i < nx / 2 ? i : i - nx) / lx, ky = (j < ny / 2 ? j : j - ny) / ly;
  double s, c;
  sincospi(-2.0 * (kx * positions[b].x + ky * positions[b].y), &s, &c);
  const float2 shifted = mul(probe_k[p], make_float2(static_cast<float>(c) * scale, static_cast<float>(s) * scale));
  waves[q] = shifted;
}

__global__ void accumulate_kernel(const float2* waves, float* out, int nx, int ny, std::size_t batch, float scale) {
  const std::size_t n = static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny);
  const std::size_t p = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (p >= n) return;
  float sum = 0.f;
  for (std::size_t b = 0; b < batch; ++b) {
    const float2 w = waves[b * n + p];
    sum += w.x * w.x + w.y * w.y;
  }
  const std::size_t i = p % static_cast<std::size_t>(nx), j = p / static_cast<std::size_t>(nx);
  out[((j + ny / 2) % ny) * nx + (i + nx / 2) % nx] = scale * sum;
}

}  // namespace

void launch_transmission(const float* v, float sigma, float2* t, std::size_t n, cudaStream_t stream) {
  transmission_kernel<<<grid_for(n), block, 0, stream>>>(v, sigma, t, n);
}
void launch_scale_mask(float2* a, const unsigned char* band, float scale, std::size_t n, cudaStream_t stream) {
  scale_mask_kernel<<<grid_for(n), block, 0, stream>>>(a, band, scale, n);
}
void launch_multiply_batched(float2* waves, const float2* factor, std::size_t n, std::size_t batch,
                             cudaStream_t stream) {
  multiply_batched_kernel<<<grid_for(n * batch), block, 0, stream>>>(waves, factor, n, n * batch);
}
void launch_mask_batched(float2* waves, const unsigned char* band, std::size_t n, std::size_t batch,
                         cudaStream_t stream) {
  mask_batched_kernel<<<grid_for(n * batch), block, 0, stream>>>(waves, band, n, n * batch);
}
void launch_probe_waves(float2* waves, const float2* probe_k, const double2* positions, int nx, int ny, double lx,
                        double ly, std::size_t batch, float scale, cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny) * batch;
  probe_waves_kernel<<<grid_for(total), block, 0, stream>>>(waves, probe_k, positions, nx, ny, lx, ly, total, scale);
}
void launch_accumulate_intensity(const float2* waves, float* out, int nx, int ny, std::size_t batch, float scale,
                                 cudaStream_t stream) {
  const std::size_t n = static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny);
  accumulate_kernel<<<grid_for(n), block, 0, stream>>>(waves, out, nx, ny, batch, scale);
}

}  // namespace cbednet::io::sim::multislice::cuda
