// The three projections of a sample, chosen as the SMC-2019 data chose them (NAMSA smc_19_sim.py): the beam is
// along the normal of each of the three strongest kinematic reflections with 1 A < d < 5 A.
#pragma once

#include <vector>

#include "io/sim/crystal.hpp"
#include "io/sim/scattering.hpp"

namespace cbednet::io::sim {

struct Projection {
  Hkl hkl{};        // the reflection whose plane normal is the beam (attribute z_dirs)
  double d = 0;     // its d-spacing, Angstrom (attribute d_hkls_angstrom)
  Vec3 beam{};      // unit Cartesian beam direction, parallel to g_hkl
  Vec3 ex{}, ey{};  // detector axes (columns, rows): ex is the a axis projected on the detector, ey = beam x ex
};

// Detector frame for a beam direction (unit vector): ex from the a axis (b axis if a is nearly parallel).
Projection projection_frame(const Vec3& beam);

// The `count` strongest reflection families with d_min < d < d_max, ranked by kinematic electron intensity summed
// over each family of equal d (the multiplicity weighting of a powder pattern; NAMSA used pymatgen's X-ray
// XRDCalculator, which adds Lorentz-polarisation factors). Representative of a family: the largest hkl in
// lexicographic order. When fewer families exist, the strongest are reused.
std::vector<Projection> choose_projections(const Crystal& crystal, int count = 3, double d_min = 1.0,
                                           double d_max = 5.0);

}  // namespace cbednet::io::sim
