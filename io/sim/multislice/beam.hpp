// The k-space arrays of one beam energy that every multislice engine needs (cbed-physics.md section 3.1 steps 4-6):
// band mask, probe spectrum and Fresnel propagators, laid out by the engine's own k-space index.
#pragma once

#include <complex>
#include <cstddef>
#include <functional>
#include <map>
#include <vector>

#include "io/sim/multislice/engine.hpp"

namespace cbednet::io::sim::multislice {

struct BeamArrays {
  std::vector<unsigned char> band;         // 1 inside the band limit
  std::vector<std::complex<float>> probe;  // A(k) exp(-i chi(k)), hard aperture |k| <= alpha / lambda
  float probe_amplitude = 0;               // sqrt(n / aperture pixels): sum_r |psi|^2 = 1 after an IFFT / n
  // exp(-i pi lambda dz k^2) / n inside the band, 0 outside (the inverse FFT's 1/n folded in), per slice thickness.
  std::map<double, std::vector<std::complex<float>>> propagators;
  double sigma = 0;  // interaction constant, rad / (V Angstrom)
};

// `index(i, j)` places FFT frequency indices (i along x, j along y) in the engine's k-space layout. Throws
// InvalidArgument when the aperture holds no pixel.
BeamArrays beam_arrays(const GridGeometry& grid, const BeamSettings& beam, const std::vector<double>& thicknesses,
                       const std::function<std::size_t(int, int)>& index);

}  // namespace cbednet::io::sim::multislice
