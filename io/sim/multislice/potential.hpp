// Projected potential of one slice on the simulation grid, built in reciprocal space from the Kirkland electron
// scattering factors (cbed-physics.md section 3.1 step 2):
//   v_z(k) = (47.878 / A) sum_j f_j(|k|) [exp(-B_j k^2 / 4)] exp(-2 pi i k.r_j),   A = lx ly,
// kept inside the band limit |k| <= k_max and transformed to real space, v_z(r) in V Angstrom. Exact for the atoms
// given (no real-space cut-off, no aliasing of the atomic form factors); the Debye-Waller damping is applied only for
// a static lattice (frozen phonons displace the atoms instead).
#pragma once

#include <map>
#include <utility>
#include <vector>

#include "io/sim/multislice/fft.hpp"
#include "io/sim/multislice/settings.hpp"
#include "io/sim/multislice/specimen.hpp"

namespace cbednet::io::sim::multislice {

// h^2 / (2 pi m0 e): V Angstrom^2 per Angstrom of f_e (cbed-physics.md section 1.5).
constexpr double potential_per_scattering_factor = 47.877645;

// Builds the slice potentials of one grid: band indices and, per species (element and B), the scattering amplitude
// (47.878 / A) f_e(|k|) exp(-B k^2 / 4) on the band, computed once and reused by every slice.
class SlicePotentialBuilder {
 public:
  SlicePotentialBuilder(const GridGeometry& grid, bool debye_waller_damping);
  // Real-space v_z of the slice, [ny, nx] row-major, V Angstrom. `fft` must match the grid.
  std::vector<float> operator()(const std::vector<SpecimenAtom>& atoms, const Fft2d& fft);

 private:
  const std::vector<double>& amplitudes(int z, double b);

  GridGeometry grid_;
  bool damping_;
  std::vector<int> cols_, rows_;  // FFT indices along x and y that can lie in the band
  std::map<std::pair<int, double>, std::vector<double>> amplitudes_;  // [rows, cols], 0 outside the band
};

}  // namespace cbednet::io::sim::multislice
