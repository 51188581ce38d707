// Electron-optical constants and kinematic structure factors.
#pragma once

#include <array>
#include <complex>
#include <vector>

#include "io/sim/crystal.hpp"

namespace cbednet::io::sim {

// Relativistic electron wavelength (Angstrom) for an accelerating voltage in volts (CODATA 2018 constants).
double electron_wavelength(double volts);
// gamma = 1 + eV / (m0 c^2).
double relativistic_gamma(double volts);
// Kirkland's interaction constant sigma = 2 pi gamma m0 e lambda / h^2 in rad / (V Angstrom).
double interaction_constant(double volts);

using Hkl = std::array<int, 3>;

// F(g) = sum_j occ_j f_j(|g|) exp(-B_j |g|^2 / 4) exp(2 pi i h.x_j) in Angstrom over the conventional cell, with
// Kirkland's non-relativistic f_e (multiply by gamma for the beam). One reflection; see structure_factors.
std::complex<double> structure_factor(const Crystal& crystal, const Hkl& hkl);

// Structure factors of many reflections at once: exp(2 pi i h x) = e_x^h e_y^k e_z^l from per-atom power tables,
// and f_e exp(-B q^2/4) once per orbit and reflection. Same values as structure_factor.
std::vector<std::complex<double>> structure_factors(const Crystal& crystal, const std::vector<Hkl>& hkls);

}  // namespace cbednet::io::sim
