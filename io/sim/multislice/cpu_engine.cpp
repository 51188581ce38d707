// The FFTW multislice engine (cbed-physics.md section 3.1): per slice, t = bandlimit(exp(i sigma v_z)) once, then
// for every probe psi <- IFFT(P M FFT(t psi)) with the Fresnel propagator P = exp(-i pi lambda dz k^2) and the band
// limit M; the exit wave's |FFT|^2 is averaged over the probes.
#include <omp.h>

#include <cmath>
#include <complex>
#include <map>
#include <memory>
#include <numbers>

#include "core/error.hpp"
#include "io/sim/multislice/beam.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/multislice/fft.hpp"
#include "io/sim/scattering.hpp"

namespace cbednet::io::sim::multislice {
namespace {

using cfloat = std::complex<float>;

class CpuEngine final : public MultisliceEngine {
 public:
  explicit CpuEngine(int threads) : threads_(threads) {
    CBEDNET_REQUIRE(threads >= 1, InvalidArgument, "multislice CPU engine: threads must be >= 1, got ", threads);
  }
  std::string name() const override { return "cpu-fftw"; }

  void do_accumulate_pattern(const SliceStack& slices, const BeamSettings& beam,
                             const std::vector<std::array<double, 2>>& probes, double weight, float* out) override {
    const GridGeometry& g = slices.grid;
    if (!fft_ || fft_->nx() != g.nx || fft_->ny() != g.ny) fft_ = std::make_unique<Fft2d>(g.nx, g.ny, 1);
    const std::size_t n = fft_->size();
    for (const auto& v : slices.potentials)
      CBEDNET_REQUIRE(v.size() == n, InvalidArgument, "multislice: slice potential of ", v.size(),
                      " values on a grid of ", n);
    const BeamArrays arrays = beam_arrays(g, beam, slices.thickness, [&](int i, int j) { return fft_->k_index(i, j); });
    const auto& band = arrays.band;
    const auto inv_n = static_cast<float>(1.0 / static_cast<double>(n));

    // Initial waves: the probe shifted to each position, in real space.
    const std::size_t n_probes = probes.size();
    waves_.resize(n_probes);
    const int n_threads = threads_;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (std::size_t w = 0; w < n_probes; ++w) {
      auto& wave = waves_[w];
      wave.assign(n, cfloat{0, 0});
      for (int j = 0; j < g.ny; ++j)
        for (int i = 0; i < g.nx; ++i) {
          const std::size_t at = fft_->k_index(i, j);
          if (arrays.probe[at] == cfloat{0, 0}) continue;
          const double phase = -2.0 * std::numbers::pi * (g.kx(i) * probes[w][0] + g.ky(j) * probes[w][1]);
          wave[at] = arrays.probe[at] * std::polar(arrays.probe_amplitude * inv_n, static_cast<float>(phase));
        }
      fft_->backward(wave.data());
    }

    ComplexBuffer transmission(n);
    const std::size_t n_slices = slices.potentials.size();
    for (std::size_t s = 0; s < n_slices; ++s) {
      const auto& v = slices.potentials[s];
      for (std::size_t p = 0; p < n; ++p) transmission[p] = std::polar(1.0f, static_cast<float>(arrays.sigma * v[p]));
      fft_->forward(transmission.data());
      for (std::size_t p = 0; p < n; ++p) transmission[p] = band[p] != 0 ? transmission[p] * inv_n : cfloat{0, 0};
      fft_->backward(transmission.data());
      const bool last = s + 1 == n_slices;
      const auto& propagator = arrays.propagators.at(slices.thickness[s]);
#pragma omp parallel for schedule(static) num_threads(n_threads)
      for (std::size_t w = 0; w < n_probes; ++w) {
        cfloat* psi = waves_[w].data();
        for (std::size_t p = 0; p < n; ++p) psi[p] *= transmission[p];
        fft_->forward(psi);
        if (last) {  // exit wave in k-space: only the band limit (the last propagator is a phase)
          for (std::size_t p = 0; p < n; ++p)
            if (band[p] == 0) psi[p] = cfloat{0, 0};
        } else {
          for (std::size_t p = 0; p < n; ++p) psi[p] *= propagator[p];
          fft_->backward(psi);
        }
      }
    }

    // Probe average in a fixed order (deterministic), zero frequency moved to the centre.
    const auto scale = static_cast<float>(weight / static_cast<double>(n_probes));
    const std::size_t nx = static_cast<std::size_t>(g.nx), ny = static_cast<std::size_t>(g.ny);
    for (std::size_t w = 0; w < n_probes; ++w) {
      const cfloat* psi = waves_[w].data();  // k-space [nx, ny]
      for (std::size_t i = 0; i < nx; ++i) {
        const std::size_t column = (i + nx / 2) % nx;
        for (std::size_t j = 0; j < ny; ++j)
          out[((j + ny / 2) % ny) * nx + column] += scale * std::norm(psi[i * ny + j]);
      }
    }
  }

 private:
  int threads_;
  std::unique_ptr<Fft2d> fft_;
  std::vector<ComplexBuffer> waves_;
};

}  // namespace

std::unique_ptr<MultisliceEngine> make_cpu_engine(int threads) { return std::make_unique<CpuEngine>(threads); }

}  // namespace cbednet::io::sim::multislice
