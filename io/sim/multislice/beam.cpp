#include "io/sim/multislice/beam.hpp"

#include <cmath>
#include <numbers>

#include "core/error.hpp"
#include "io/sim/scattering.hpp"

namespace cbednet::io::sim::multislice {

BeamArrays beam_arrays(const GridGeometry& g, const BeamSettings& beam, const std::vector<double>& thicknesses,
                       const std::function<std::size_t(int, int)>& index) {
  const std::size_t n = static_cast<std::size_t>(g.nx) * static_cast<std::size_t>(g.ny);
  const double volts = beam.energy_keV * 1e3;
  const double lambda = electron_wavelength(volts);
  BeamArrays out;
  out.sigma = interaction_constant(volts);
  std::vector<double> k2(n);
  out.band.assign(n, 0);
  for (int j = 0; j < g.ny; ++j)
    for (int i = 0; i < g.nx; ++i) {
      const std::size_t at = index(i, j);
      k2[at] = g.kx(i) * g.kx(i) + g.ky(j) * g.ky(j);
      out.band[at] = g.in_band(i, j) ? 1 : 0;
    }

  out.probe.assign(n, {0.0f, 0.0f});
  const double radius2 = std::pow(beam.semi_angle / lambda, 2);
  const double cs = beam.cs_mm * 1e7;  // Angstrom
  std::size_t inside = 0;
  for (std::size_t p = 0; p < n; ++p) {
    if (out.band[p] == 0 || k2[p] > radius2) continue;
    const double chi = std::numbers::pi * lambda * k2[p] * (0.5 * cs * lambda * lambda * k2[p] - beam.defocus);
    out.probe[p] = std::polar(1.0f, static_cast<float>(-chi));
    ++inside;
  }
  CBEDNET_REQUIRE(inside > 0, InvalidArgument, "multislice: the probe aperture (", beam.semi_angle,
                  " rad) holds no pixel of the grid");
  out.probe_amplitude = static_cast<float>(std::sqrt(static_cast<double>(n) / static_cast<double>(inside)));

  const auto inv_n = static_cast<float>(1.0 / static_cast<double>(n));
  for (const double dz : thicknesses) {
    if (out.propagators.count(dz) != 0U) continue;
    std::vector<std::complex<float>> p(n, {0.0f, 0.0f});
    for (std::size_t q = 0; q < n; ++q)
      if (out.band[q] != 0)
        p[q] = std::polar(inv_n,
                          static_cast<float>(std::fmod(-std::numbers::pi * lambda * dz * k2[q], 2 * std::numbers::pi)));
    out.propagators.emplace(dz, std::move(p));
  }
  return out;
}

}  // namespace cbednet::io::sim::multislice
