// Kinematic CBED patterns of one projection (cbed-physics.md sections 1.5-1.7).
//
// The detector is the plane perpendicular to the beam; pixel (row i, column j) is the transverse wave vector
// q = ((j - S/2) dk, (i - S/2) dk) in 1/Angstrom. Each reflection g lights a disc of radius alpha/lambda centred
// on its transverse part g_t; a pixel of disc g belongs to the incident direction K = q - g_t, and its intensity
// is the Howie-Whelan kinematic rocking curve of a slab of thickness t,
//   I_g(K) = (lambda gamma |F_g| t / V_c)^2 sinc^2(pi t s_g(K)),   s_g = (k^2 - |k0 + g|^2) / (2 |k0 + g|),
// added incoherently where discs overlap. The bright-field disc is 1 - sum_g I_g(K) (HOLZ deficit lines),
// and the whole pattern is scaled by I0 = S^2 / (pi r_px^2), so the incident beam carries S^2 in total like an
// unnormalised FFT of a unit-norm probe (the scale of the SMC-2019 files). Negative values are clamped to 0.
#pragma once

#include <vector>

#include "io/sim/crystal.hpp"
#include "io/sim/projections.hpp"
#include "io/sim/scattering.hpp"

namespace cbednet::io::sim {

struct CbedSettings {
  int size = 512;                        // S
  double thickness = 100.0;              // Angstrom (the SMC-2019 slab, smc2019-dataset.md section 2)
  double max_excitation_error = 0.25;    // 1/Angstrom: reflections further from the Ewald sphere are omitted
  double min_relative_intensity = 1e-6;  // discs whose peak is below this fraction of the BF level are skipped
  bool zolz_only = false;                // keep only reflections with g . beam = 0 (tests, projections)
  // SMC-2019 sampling: 0.01 1/A per pixel at 512 (100 A supercell); other sizes cover the same field.
  double pixel_size() const { return 0.01 * 512.0 / size; }
};

// The beam-energy reference of the convergence angle: alpha = theta_B / 2 = lambda(100 kV) / (4 d), for every
// energy, as NAMSA's smc_19_sim.py computed it (smc2019-dataset.md section 2).
double semi_angle_for(double d_spacing);
// Disc radius in pixels, (alpha / lambda) / dk.
double disc_radius_pixels(double semi_angle, double wavelength, double pixel_size);

struct DiscReflection {
  Hkl hkl{};
  double gx = 0, gy = 0;  // transverse part on the detector axes, 1/Angstrom
  double gz = 0;          // component along the beam
  double abs_f = 0;       // |F_g|, Angstrom (non-relativistic)
};

// Everything a projection needs at any energy 100-200 keV: computed once per material and projection.
struct ProjectionReflections {
  Projection projection;
  double cell_volume = 0;
  std::vector<DiscReflection> reflections;
};

ProjectionReflections prepare_projection(const Crystal& crystal, const Projection& projection,
                                         const CbedSettings& settings);

// Renders one pattern: out is [S, S] row-major, overwritten, non-negative.
void render_cbed(const ProjectionReflections& prepared, double energy_keV, double semi_angle,
                 const CbedSettings& settings, float* out);

// The same intensity evaluated exactly at one detector point q = (qx, qy) in 1/Angstrom (no pixel rounding of
// the bright-field deficit); for symmetry tests.
double cbed_intensity_at(const ProjectionReflections& prepared, double energy_keV, double semi_angle,
                         const CbedSettings& settings, double qx, double qy);

}  // namespace cbednet::io::sim
