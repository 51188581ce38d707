#include "io/sim/multislice/fft.hpp"

#include <mutex>

#include "core/error.hpp"

namespace cbednet::io::sim::multislice {
namespace {
// FFTW's planner is global state: plans are made under this lock (execution needs none).
std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

fftwf_complex* as_fftw(std::complex<float>* p) { return reinterpret_cast<fftwf_complex*>(p); }
}  // namespace

Fft2d::Fft2d(int nx, int ny, int threads) : nx_(nx), ny_(ny) {
  CBEDNET_REQUIRE(nx > 0 && ny > 0 && threads >= 1, InvalidArgument, "FFT: bad grid ", nx, " x ", ny, " or threads ",
                  threads);
  ComplexBuffer scratch(size());
  const std::lock_guard<std::mutex> lock(planner_mutex());
  static const bool threads_ready = fftwf_init_threads() != 0;
  CBEDNET_REQUIRE(threads_ready, Error, "FFTW: fftwf_init_threads failed");
  fftwf_plan_with_nthreads(threads);
  forward_ = fftwf_plan_dft_2d(ny, nx, as_fftw(scratch.data()), as_fftw(scratch.data()), FFTW_FORWARD, FFTW_ESTIMATE);
  backward_ = fftwf_plan_dft_2d(ny, nx, as_fftw(scratch.data()), as_fftw(scratch.data()), FFTW_BACKWARD, FFTW_ESTIMATE);
  fftwf_plan_with_nthreads(1);
  if (forward_ == nullptr || backward_ == nullptr) {
    if (forward_ != nullptr) fftwf_destroy_plan(forward_);
    if (backward_ != nullptr) fftwf_destroy_plan(backward_);
    throw_error<Error>("FFTW: no plan for a ", nx, " x ", ny, " transform");
  }
}

Fft2d::~Fft2d() {
  const std::lock_guard<std::mutex> lock(planner_mutex());
  fftwf_destroy_plan(forward_);
  fftwf_destroy_plan(backward_);
}

void Fft2d::forward(std::complex<float>* data) const { fftwf_execute_dft(forward_, as_fftw(data), as_fftw(data)); }
void Fft2d::backward(std::complex<float>* data) const { fftwf_execute_dft(backward_, as_fftw(data), as_fftw(data)); }

}  // namespace cbednet::io::sim::multislice
