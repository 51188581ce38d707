#include "io/sim/multislice/fft.hpp"

#include <algorithm>
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

// `count` transforms of length `length`, contiguous, one after another; in place when in == out.
fftwf_plan batched(int length, int count, std::complex<float>* in, std::complex<float>* out, int sign) {
  const int n[1] = {length};
  return fftwf_plan_many_dft(1, n, count, as_fftw(in), nullptr, 1, length, as_fftw(out), nullptr, 1, length, sign,
                             FFTW_ESTIMATE);
}

// out[c * rows + r] = in[r * cols + c] in 32 x 32 tiles (both stay in cache).
void transpose(const std::complex<float>* in, std::complex<float>* out, int rows, int cols) {
  constexpr int tile = 32;
  for (int r0 = 0; r0 < rows; r0 += tile)
    for (int c0 = 0; c0 < cols; c0 += tile) {
      const int r1 = std::min(rows, r0 + tile), c1 = std::min(cols, c0 + tile);
      for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c)
          out[static_cast<std::size_t>(c) * static_cast<std::size_t>(rows) + static_cast<std::size_t>(r)] =
              in[static_cast<std::size_t>(r) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(c)];
    }
}
}  // namespace

Fft2d::Fft2d(int nx, int ny, int threads) : nx_(nx), ny_(ny) {
  CBEDNET_REQUIRE(nx > 0 && ny > 0 && threads >= 1, InvalidArgument, "FFT: bad grid ", nx, " x ", ny, " or threads ",
                  threads);
  ComplexBuffer scratch(size()), other(size());
  const std::lock_guard<std::mutex> lock(planner_mutex());
  static const bool threads_ready = fftwf_init_threads() != 0;
  CBEDNET_REQUIRE(threads_ready, Error, "FFTW: fftwf_init_threads failed");
  fftwf_plan_with_nthreads(threads);
  // Forward: x in place, transpose into scratch, y from scratch into the array. Backward: y in place, transpose into
  // scratch, x from scratch into the array.
  forward_x_ = batched(nx, ny, scratch.data(), scratch.data(), FFTW_FORWARD);
  forward_y_ = batched(ny, nx, scratch.data(), other.data(), FFTW_FORWARD);
  backward_y_ = batched(ny, nx, scratch.data(), scratch.data(), FFTW_BACKWARD);
  backward_x_ = batched(nx, ny, scratch.data(), other.data(), FFTW_BACKWARD);
  fftwf_plan_with_nthreads(1);
  if (forward_x_ == nullptr || backward_x_ == nullptr || forward_y_ == nullptr || backward_y_ == nullptr) {
    for (fftwf_plan p : {forward_x_, backward_x_, forward_y_, backward_y_})
      if (p != nullptr) fftwf_destroy_plan(p);
    throw_error<Error>("FFTW: no plan for a ", nx, " x ", ny, " transform");
  }
}

Fft2d::~Fft2d() {
  const std::lock_guard<std::mutex> lock(planner_mutex());
  for (fftwf_plan p : {forward_x_, backward_x_, forward_y_, backward_y_}) fftwf_destroy_plan(p);
}

void Fft2d::forward(std::complex<float>* data) const {
  thread_local ComplexBuffer transposed;  // per thread: one plan runs on several threads' arrays at once
  transposed.resize(size());
  fftwf_execute_dft(forward_x_, as_fftw(data), as_fftw(data));  // along x, rows of [ny, nx]
  transpose(data, transposed.data(), ny_, nx_);
  fftwf_execute_dft(forward_y_, as_fftw(transposed.data()), as_fftw(data));  // along y, rows of [nx, ny]
}

void Fft2d::backward(std::complex<float>* data) const {
  thread_local ComplexBuffer transposed;
  transposed.resize(size());
  fftwf_execute_dft(backward_y_, as_fftw(data), as_fftw(data));
  transpose(data, transposed.data(), nx_, ny_);
  fftwf_execute_dft(backward_x_, as_fftw(transposed.data()), as_fftw(data));
}

}  // namespace cbednet::io::sim::multislice
