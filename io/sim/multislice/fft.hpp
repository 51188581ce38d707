// FFTW single-precision 2-D transforms for the CPU multislice engine: SIMD-aligned buffers and batched 1-D plans
// made with FFTW_ESTIMATE (no timing runs, so the plans, and the rounding of every result, do not depend on machine
// load, rank or run). A 2-D transform is rows, a blocked transpose, rows, and a transpose back: FFTW_ESTIMATE's own
// 2-D plan for 512^2 runs its column pass with a 2 MiB stride and is about 10x slower (measured here: 19 ms against
// 0.8 ms for the row pass).
#pragma once

#include <fftw3.h>

#include <complex>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace cbednet::io::sim::multislice {

// std::allocator replacement that returns fftwf_malloc memory (aligned for FFTW's SIMD kernels).
template <class T>
struct FftwAllocator {
  using value_type = T;
  FftwAllocator() = default;
  template <class U>
  explicit FftwAllocator(const FftwAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    void* p = fftwf_malloc(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { fftwf_free(p); }
  template <class U>
  bool operator==(const FftwAllocator<U>&) const noexcept {
    return true;
  }
};

using ComplexBuffer = std::vector<std::complex<float>, FftwAllocator<std::complex<float>>>;

// Unnormalised in-place forward (exp(-2 pi i k.r)) and backward (exp(+2 pi i k.r)) transforms between real space
// [ny, nx] and transposed k-space [nx, ny] (see above), on ComplexBuffer arrays. Executing one plan on different
// arrays from several threads is safe.
class Fft2d {
 public:
  // `threads` > 1 plans with FFTW's threads (each batch split over them).
  Fft2d(int nx, int ny, int threads = 1);
  ~Fft2d();
  Fft2d(const Fft2d&) = delete;
  Fft2d& operator=(const Fft2d&) = delete;

  void forward(std::complex<float>* data) const;   // real [ny, nx] -> k-space [nx, ny]
  void backward(std::complex<float>* data) const;  // k-space [nx, ny] -> real [ny, nx]
  // Index of FFT frequency indices (i along x, j along y) in the k-space layout.
  std::size_t k_index(int i, int j) const {
    return static_cast<std::size_t>(i) * static_cast<std::size_t>(ny_) + static_cast<std::size_t>(j);
  }
  int nx() const { return nx_; }
  int ny() const { return ny_; }
  std::size_t size() const { return static_cast<std::size_t>(nx_) * static_cast<std::size_t>(ny_); }

 private:
  int nx_, ny_;
  // Batched 1-D plans: along x over the ny rows of [ny, nx], and along y over the nx rows of the transpose [nx, ny].
  fftwf_plan forward_x_ = nullptr, backward_x_ = nullptr, forward_y_ = nullptr, backward_y_ = nullptr;
};

}  // namespace cbednet::io::sim::multislice
