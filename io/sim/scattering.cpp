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
    const double phase =
        2.0 * std::numbers::pi * (hkl[0] * atom.frac[0] + hkl[1] * atom.frac[1] + hkl[2] * atom.frac[2]);
    f += atom.occupancy * electron_scattering_factor(atom.z, q) * std::exp(-atom.b_iso * q * q / 4.0) *
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

  // Per-atom power tables exp(2 pi i h x_i) as separate real and imaginary parts, index atom * width + h + hmax.
  // Plain real arithmetic: std::complex multiplication goes through NaN-checking library calls.
  std::array<std::vector<double>, 3> re, im;
  std::array<std::size_t, 3> width{};
  for (std::size_t i = 0; i < 3; ++i) {
    width[i] = 2 * static_cast<std::size_t>(hmax[i]) + 1;
    re[i].resize(n_atoms * width[i]);
    im[i].resize(n_atoms * width[i]);
    for (std::size_t a = 0; a < n_atoms; ++a) {
      const double x = 2.0 * std::numbers::pi * crystal.atoms[a].frac[i];
      for (int h = -hmax[i]; h <= hmax[i]; ++h) {
        const std::size_t at = a * width[i] + static_cast<std::size_t>(h + hmax[i]);
        re[i][at] = std::cos(h * x);
        im[i][at] = std::sin(h * x);
      }
    }
  }
  // Scattering amplitude per orbit (atoms of an orbit share element, B and occupancy).
  std::vector<int> orbit_z(static_cast<std::size_t>(n_orbits), 0);
  std::vector<double> orbit_b(static_cast<std::size_t>(n_orbits), 0.0);
  std::vector<double> orbit_occupancy(static_cast<std::size_t>(n_orbits), 1.0);
  std::vector<std::size_t> orbit_of(n_atoms);
  for (std::size_t a = 0; a < n_atoms; ++a) {
    const auto& atom = crystal.atoms[a];
    orbit_of[a] = static_cast<std::size_t>(atom.orbit);
    orbit_z[orbit_of[a]] = atom.z;
    orbit_b[orbit_of[a]] = atom.b_iso;
    orbit_occupancy[orbit_of[a]] = atom.occupancy;
  }
  const Mat3 recip = reciprocal_basis(crystal.basis);
  std::vector<double> sum_re(static_cast<std::size_t>(n_orbits)), sum_im(static_cast<std::size_t>(n_orbits));
  for (std::size_t r = 0; r < hkls.size(); ++r) {
    const Hkl& h = hkls[r];
    std::fill(sum_re.begin(), sum_re.end(), 0.0);
    std::fill(sum_im.begin(), sum_im.end(), 0.0);
    for (std::size_t a = 0; a < n_atoms; ++a) {
      const std::size_t ix = a * width[0] + static_cast<std::size_t>(h[0] + hmax[0]);
      const std::size_t iy = a * width[1] + static_cast<std::size_t>(h[1] + hmax[1]);
      const std::size_t iz = a * width[2] + static_cast<std::size_t>(h[2] + hmax[2]);
      const double xy_re = re[0][ix] * re[1][iy] - im[0][ix] * im[1][iy];
      const double xy_im = re[0][ix] * im[1][iy] + im[0][ix] * re[1][iy];
      sum_re[orbit_of[a]] += xy_re * re[2][iz] - xy_im * im[2][iz];
      sum_im[orbit_of[a]] += xy_re * im[2][iz] + xy_im * re[2][iz];
    }
    const double q = norm(reciprocal_vector(recip, h[0], h[1], h[2]));
    double f_re = 0, f_im = 0;
    for (std::size_t o = 0; o < sum_re.size(); ++o) {
      if (orbit_z[o] == 0) continue;
      const double amp =
          orbit_occupancy[o] * electron_scattering_factor(orbit_z[o], q) * std::exp(-orbit_b[o] * q * q / 4.0);
      f_re += amp * sum_re[o];
      f_im += amp * sum_im[o];
    }
    out[r] = {f_re, f_im};
  }
  return out;
}

}  // namespace cbednet::io::sim
