// FFTW single-precision 2-D transforms for the CPU multislice engine: SIMD-aligned buffers and one plan pair
// per grid, planned with FFTW_ESTIMATE (no timing runs, so plans and results do not depend on machine load).
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

// Unnormalised in-place forward (exp(-2 pi i k.r)) and backward (exp(+2 pi i k.r)) transforms of [ny, nx]
// row-major arrays from ComplexBuffer. Executing one plan on different arrays from several threads is safe.
class Fft2d {
 public:
  // `threads` > 1 plans with FFTW's threads (each transform split over them).
  Fft2d(int nx, int ny, int threads = 1);
  ~Fft2d();
  Fft2d(const Fft2d&) = delete;
  Fft2d& operator=(const Fft2d&) = delete;

  void forward(std::complex<float>* data) const;
  void backward(std::complex<float>* data) const;
  int nx() const { return nx_; }
  int ny() const { return ny_; }
  std::size_t size() const { return static_cast<std::size_t>(nx_) * static_cast<std::size_t>(ny_); }

 private:
  int nx_, ny_;
  fftwf_plan forward_ = nullptr, backward_ = nullptr;
};

}  // namespace cbednet::io::sim::multislice
