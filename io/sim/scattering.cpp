#include "io/sim/scattering.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>

#include "io/sim/kirkland.hpp"

namespace cbednet::io::sim {
namespace {
// CODATA 2018.
constexpr double planck = 6.62607015e-34;           // J s
constexpr double electron_mass = 9.1093837015e-31;  // kg
constexpr double elementary_charge = 1.602176634e-19;
constexpr double light_speed = 299792458.0;
}  // namespace

double electron_wavelength(double volts) {
  const double eV = elementary_charge * volts;
  const double p2 = 2.0 * electron_mass * eV * (1.0 + eV / (2.0 * electron_mass * light_speed * light_speed));
  return planck / std::sqrt(p2) * 1e10;
}

double relativistic_gamma(double volts) {
  return 1.0 + elementary_charge * volts / (electron_mass * light_speed * light_speed);
}

double interaction_constant(double volts) {
  const double lambda_m = electron_wavelength(volts) * 1e-10;
  const double sigma_si = 2.0 * std::numbers::pi * relativistic_gamma(volts) * electron_mass * elementary_charge *
                          lambda_m / (planck * planck);  // rad / (V m)
  return sigma_si * 1e-10;
}

std::complex<double> structure_factor(const Crystal& crystal, const Hkl& hkl) {
  const Mat3 recip = reciprocal_basis(crystal.basis);
  const double q = norm(reciprocal_vector(recip, hkl[0], hkl[1], hkl[2]));
  std::complex<double> f{};
  for (const auto& atom : crystal.atoms) {
    const double phase = 2.0 * std::numbers::pi *
                         (hkl[0] * atom.frac[0] + hkl[1] * atom.frac[1] + hkl[2] * atom.frac[2]);
    f += electron_scattering_factor(atom.z, q) * std::exp(-atom.b_iso * q * q / 4.0) *
         std::complex<double>(std::cos(phase), std::sin(phase));
  }
  return f;
}

std::vector<std::complex<double>> structure_factors(const Crystal& crystal, const std::vector<Hkl>& hkls) {
  std::vector<std::complex<double>> out(hkls.size());
  if (hkls.empty() || crystal.atoms.empty()) return out;
  int hmax[3] = {0, 0, 0};
  for (const auto& h : hkls)
    for (int i = 0; i < 3; ++i) hmax[i] = std::max(hmax[i], std::abs(h[i]));
  const std::size_t n_atoms = crystal.atoms.size();
  int n_orbits = 0;
  for (const auto& a : crystal.atoms) n_orbits = std::max(n_orbits, a.orbit + 1);

  // powers[i][atom * (2 hmax_i + 1) + (h + hmax_i)] = exp(2 pi i h x_i)
  std::array<std::vector<std::complex<double>>, 3> powers;
  for (int i = 0; i < 3; ++i) {
    const std::size_t width = 2 * static_cast<std::size_t>(hmax[i]) + 1;
    powers[i].resize(n_atoms * width);
    for (std::size_t a = 0; a < n_atoms; ++a) {
      const double x = 2.0 * std::numbers::pi * crystal.atoms[a].frac[static_cast<std::size_t>(i)];
      for (int h = -hmax[i]; h <= hmax[i]; ++h)
        powers[i][a * width + static_cast<std::size_t>(h + hmax[i])] = std::polar(1.0, h * x);
    }
  }
  // Scattering amplitude per orbit (atoms of an orbit share element and B).
  std::vector<int> orbit_z(static_cast<std::size_t>(n_orbits), 0);
  std::vector<double> orbit_b(static_cast<std::size_t>(n_orbits), 0.0);
  for (const auto& a : crystal.atoms) {
    orbit_z[static_cast<std::size_t>(a.orbit)] = a.z;
    orbit_b[static_cast<std::size_t>(a.orbit)] = a.b_iso;
  }
  const Mat3 recip = reciprocal_basis(crystal.basis);
  std::vector<std::complex<double>> orbit_sum(static_cast<std::size_t>(n_orbits));
  for (std::size_t r = 0; r < hkls.size(); ++r) {
    const Hkl& h = hkls[r];
    std::fill(orbit_sum.begin(), orbit_sum.end(), std::complex<double>{});
    for (std::size_t a = 0; a < n_atoms; ++a) {
      const auto ex = powers[0][a * (2 * static_cast<std::size_t>(hmax[0]) + 1) + static_cast<std::size_t>(h[0] + hmax[0])];
      const auto ey = powers[1][a * (2 * static_cast<std::size_t>(hmax[1]) + 1) + static_cast<std::size_t>(h[1] + hmax[1])];
      const auto ez = powers[2][a * (2 * static_cast<std::size_t>(hmax[2]) + 1) + static_cast<std::size_t>(h[2] + hmax[2])];
      orbit_sum[static_cast<std::size_t>(crystal.atoms[a].orbit)] += ex * ey * ez;
    }
    const double q = norm(reciprocal_vector(recip, h[0], h[1], h[2]));
    std::complex<double> f{};
    for (std::size_t o = 0; o < orbit_sum.size(); ++o) {
      if (orbit_z[o] == 0) continue;
      f += electron_scattering_factor(orbit_z[o], q) * std::exp(-orbit_b[o] * q * q / 4.0) * orbit_sum[o];
    }
    out[r] = f;
  }
  return out;
}

}  // namespace cbednet::io::sim
