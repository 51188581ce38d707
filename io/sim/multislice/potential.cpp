#include "io/sim/multislice/potential.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <utility>

#include "core/error.hpp"
#include "io/sim/kirkland.hpp"

namespace cbednet::io::sim::multislice {
namespace {

// Band-limited rows: for FFT row j, the contiguous runs of in-band columns (0..hi and nx-hi..nx-1).
struct BandRow {
  int j = 0;
  int half = -1;  // |kx index| <= half is in band; -1: row empty
};

std::vector<BandRow> band_rows(const GridGeometry& g) {
  std::vector<BandRow> rows;
  const double k = g.k_max();
  for (int j = 0; j < g.ny; ++j) {
    if (j == g.ny / 2) continue;  // Nyquist row (see GridGeometry::in_band)
    const double ky = g.ky(j);
    const double rest = k * k - ky * ky;
    if (rest < 0) continue;
    const int half = std::min(g.nx / 2 - 1, static_cast<int>(std::floor(std::sqrt(rest * (1 + 1e-12)) * g.lx)));
    rows.push_back({j, half});
  }
  return rows;
}

}  // namespace

std::vector<float> slice_potential(const std::vector<SpecimenAtom>& atoms, const GridGeometry& grid,
                                   bool debye_waller_damping, const Fft2d& fft) {
  CBEDNET_REQUIRE(fft.nx() == grid.nx && fft.ny() == grid.ny, InvalidArgument, "potential: FFT ", fft.nx(), "x",
                  fft.ny(), " does not match the grid ", grid.nx, "x", grid.ny);
  const std::size_t n = fft.size();
  const auto rows = band_rows(grid);
  const auto nx = static_cast<std::size_t>(grid.nx);
  // Species: atoms sharing the scattering amplitude (element, and B when it damps).
  std::map<std::pair<int, double>, std::vector<const SpecimenAtom*>> species;
  for (const auto& a : atoms) species[{a.z, debye_waller_damping ? a.b_iso : 0.0}].push_back(&a);

  std::vector<double> total_re(n, 0.0), total_im(n, 0.0);
  std::vector<double> s_re(n), s_im(n);
  std::vector<double> px_re(nx), px_im(nx);
  const double two_pi = 2.0 * std::numbers::pi;
  const double scale = potential_per_scattering_factor / (grid.lx * grid.ly);
  for (const auto& [key, members] : species) {
    std::fill(s_re.begin(), s_re.end(), 0.0);
    std::fill(s_im.begin(), s_im.end(), 0.0);
    for (const SpecimenAtom* a : members) {
      // exp(-2 pi i kx x) for every column (only in-band ones are read).
      for (std::size_t i = 0; i < nx; ++i) {
        const double phase = -two_pi * grid.kx(static_cast<int>(i)) * a->x;
        px_re[i] = std::cos(phase);
        px_im[i] = std::sin(phase);
      }
      for (const auto& row : rows) {
        const double phase = -two_pi * grid.ky(row.j) * a->y;
        const double qr = std::cos(phase), qi = std::sin(phase);
        double* sr = s_re.data() + static_cast<std::size_t>(row.j) * nx;
        double* si = s_im.data() + static_cast<std::size_t>(row.j) * nx;
        const auto add = [&](std::size_t i0, std::size_t i1) {
          for (std::size_t i = i0; i < i1; ++i) {
            sr[i] += qr * px_re[i] - qi * px_im[i];
            si[i] += qr * px_im[i] + qi * px_re[i];
          }
        };
        add(0, static_cast<std::size_t>(row.half) + 1);
        if (row.half >= 1) add(nx - static_cast<std::size_t>(row.half), nx);
      }
    }
    const auto [z, b] = key;
    for (const auto& row : rows)
      for (std::size_t i = 0; i < nx; ++i) {
        const std::size_t at = static_cast<std::size_t>(row.j) * nx + i;
        if (s_re[at] == 0.0 && s_im[at] == 0.0) continue;
        const double kx = grid.kx(static_cast<int>(i)), ky = grid.ky(row.j);
        const double q2 = kx * kx + ky * ky;
        const double amp = scale * electron_scattering_factor(z, std::sqrt(q2)) * std::exp(-b * q2 / 4.0);
        total_re[at] += amp * s_re[at];
        total_im[at] += amp * s_im[at];
      }
  }
  ComplexBuffer wave(n);
  for (std::size_t p = 0; p < n; ++p) wave[p] = {static_cast<float>(total_re[p]), static_cast<float>(total_im[p])};
  fft.backward(wave.data());  // v(r) = sum_k v(k) exp(2 pi i k.r): real, since the band is symmetric
  std::vector<float> out(n);
  for (std::size_t p = 0; p < n; ++p) out[p] = wave[p].real();
  return out;
}

}  // namespace cbednet::io::sim::multislice
