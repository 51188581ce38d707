#include "io/sim/multislice/potential.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <numbers>
#include <tuple>
#include <utility>

#include "core/error.hpp"
#include "io/sim/kirkland.hpp"
#include "kernels/cpu/blas.hpp"

namespace cbednet::io::sim::multislice {
namespace {

// FFT indices along one axis whose frequency can lie inside the band (|k| <= k_max, the Nyquist index excluded).
std::vector<int> band_indices(int n, double length, double k_max) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    if (i == n / 2) continue;
    const double k = (i < n / 2 ? i : i - n) / length;
    if (std::abs(k) <= k_max * (1 + 1e-12)) out.push_back(i);
  }
  return out;
}

// Phase table exp(-2 pi i k_c r_a) for atom a (row) and band index c (column): [atoms, indices] row-major. The band
// indices are 0..h and n-h..n-1, i.e. frequencies m / L for |m| <= h: powers of exp(-2 pi i r / L) in double (the
// recurrence's rounding stays ~h 1e-16), stored in float for a single-precision GEMM.
std::vector<std::complex<float>> phases(const std::vector<const SpecimenAtom*>& atoms, const std::vector<int>& indices,
                                        int n, double length, bool along_x) {
  std::vector<std::complex<float>> out(atoms.size() * indices.size());
  int h = 0;
  for (const int i : indices) h = std::max(h, i < n / 2 ? i : n - i);
  std::vector<std::complex<double>> power(static_cast<std::size_t>(h) + 1);
  for (std::size_t a = 0; a < atoms.size(); ++a) {
    const double r = along_x ? atoms[a]->x : atoms[a]->y;
    const std::complex<double> step = std::polar(1.0, -2.0 * std::numbers::pi * r / length);
    power[0] = 1.0;
    for (std::size_t m = 1; m < power.size(); ++m) power[m] = power[m - 1] * step;
    for (std::size_t c = 0; c < indices.size(); ++c) {
      const int i = indices[c];
      const std::complex<double> v =
          i < n / 2 ? power[static_cast<std::size_t>(i)] : std::conj(power[static_cast<std::size_t>(n - i)]);
      out[a * indices.size() + c] = {static_cast<float>(v.real()), static_cast<float>(v.imag())};
    }
  }
  return out;
}

// OpenBLAS splits a GEMM differently for different thread counts, which changes the rounding: outside an OpenMP
// parallel region (one simulation thread) it would use every core and a sample's bytes would depend on --threads.
// Single-threaded for the GEMM, the previous count restored after (OpenBLAS's OpenMP build sets the calling
// thread's OpenMP default with it). Inside a parallel region OpenBLAS is single-threaded anyway.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : previous_(blas::threads()) {
    if (previous_ != 1) blas::set_threads(1);
  }
  ~SingleThreadedBlas() {
    if (previous_ != 1) blas::set_threads(previous_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_;
};

}  // namespace

SlicePotentialBuilder::SlicePotentialBuilder(const GridGeometry& grid, bool debye_waller_damping)
    : grid_(grid),
      damping_(debye_waller_damping),
      cols_(band_indices(grid.nx, grid.lx, grid.k_max())),
      rows_(band_indices(grid.ny, grid.ly, grid.k_max())) {}

const std::vector<double>& SlicePotentialBuilder::amplitudes(int z, double b) {
  auto [it, inserted] = amplitudes_.try_emplace({z, b});
  if (inserted) {
    const double scale = potential_per_scattering_factor / (grid_.lx * grid_.ly);
    auto& amp = it->second;
    amp.assign(rows_.size() * cols_.size(), 0.0);
    for (std::size_t r = 0; r < rows_.size(); ++r)
      for (std::size_t c = 0; c < cols_.size(); ++c) {
        if (!grid_.in_band(cols_[c], rows_[r])) continue;
        const double kx = grid_.kx(cols_[c]), ky = grid_.ky(rows_[r]);
        const double q2 = kx * kx + ky * ky;
        amp[r * cols_.size() + c] = scale * electron_scattering_factor(z, std::sqrt(q2)) * std::exp(-b * q2 / 4.0);
      }
  }
  return it->second;
}

std::vector<float> SlicePotentialBuilder::operator()(const std::vector<SpecimenAtom>& atoms, const Fft2d& fft) {
  CBEDNET_REQUIRE(fft.nx() == grid_.nx && fft.ny() == grid_.ny, InvalidArgument, "potential: FFT ", fft.nx(), "x",
                  fft.ny(), " does not match the grid ", grid_.nx, "x", grid_.ny);
  const std::size_t n = fft.size();
  // Species: atoms sharing the scattering amplitude (element, B when it damps, and occupancy).
  std::map<std::tuple<int, double, double>, std::vector<const SpecimenAtom*>> species;
  for (const auto& a : atoms) species[{a.z, damping_ ? a.b_iso : 0.0, a.occupancy}].push_back(&a);

  std::vector<std::complex<double>> total(rows_.size() * cols_.size());
  std::vector<std::complex<float>> sum(rows_.size() * cols_.size());
  for (const auto& [key, members] : species) {
    // sum_j exp(-2 pi i (kx x_j + ky y_j)) = (Py^T Px)[row, col]: one complex GEMM per species (float: the sum of
    // a few thousand unit phasors keeps ~1e-6 relative accuracy, and cgemm runs at twice zgemm's rate).
    const auto px = phases(members, cols_, grid_.nx, grid_.lx, true);
    const auto py = phases(members, rows_, grid_.ny, grid_.ly, false);
    const std::complex<float> one{1, 0}, zero{0, 0};
    const SingleThreadedBlas single_threaded;
    cblas_cgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(rows_.size()), static_cast<int>(cols_.size()),
                static_cast<int>(members.size()), &one, py.data(), static_cast<int>(rows_.size()), px.data(),
                static_cast<int>(cols_.size()), &zero, sum.data(), static_cast<int>(cols_.size()));
    const auto& [z, b, occupancy] = key;
    const auto& amp = amplitudes(z, b);
    for (std::size_t p = 0; p < total.size(); ++p) total[p] += occupancy * amp[p] * std::complex<double>(sum[p]);
  }
  ComplexBuffer wave(n, std::complex<float>{0, 0});
  for (std::size_t r = 0; r < rows_.size(); ++r)
    for (std::size_t c = 0; c < cols_.size(); ++c) {
      const auto v = total[r * cols_.size() + c];
      wave[fft.k_index(cols_[c], rows_[r])] = {static_cast<float>(v.real()), static_cast<float>(v.imag())};
    }
  fft.backward(wave.data());  // v(r) = sum_k v(k) exp(2 pi i k.r): real, since the band is symmetric
  std::vector<float> out(n);
  for (std::size_t p = 0; p < n; ++p) out[p] = wave[p].real();
  return out;
}

}  // namespace cbednet::io::sim::multislice
