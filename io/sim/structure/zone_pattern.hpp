// One material, one geometry: the CBED pattern of a crystal along a zone axis [UVW] (a direct-lattice direction) or
// along the normal of the plane (hkl) (the rule the SMC-2019 data used), at one energy, thickness, convergence
// semi-angle and (multislice) probe position, kinematic or multislice.
#pragma once

#include <array>
#include <string>

#include "io/sim/projections.hpp"
#include "io/sim/simulator.hpp"
#include "io/smc_sample.hpp"

namespace cbednet::io::sim {

struct BeamDirection {
  bool zone_axis = true;         // true: [UVW] of the direct lattice; false: normal of the plane (hkl)
  std::array<int, 3> indices{};  // U V W or h k l
};

// The projection along the direction: beam, detector frame, `hkl` = the indices and `d` = the slice thickness a
// multislice run uses by default (for a zone axis the lattice repeat along the beam cut into slices of at most 2 A;
// for a plane normal d_hkl). Throws InvalidArgument naming the option for 0 0 0.
Projection beam_projection(const Crystal& crystal, const BeamDirection& direction);

// The convergence semi-angle when none is given: alpha = lambda(100 kV) / (4 d) (SMC-2019's rule) with d = d_hkl of
// the plane, or for a zone axis the largest d-spacing of the reflections in its zero-order Laue zone (|hkl| <= 6),
// so that neighbouring discs just touch at 100 keV.
double default_semi_angle(const Crystal& crystal, const BeamDirection& direction);

struct ZoneSettings {
  BeamDirection direction;
  double energy_keV = 200;
  double semi_angle = 0;  // rad; 0: default_semi_angle
};

// The pattern as a one-sample SMC file's sample ("sample_0_0"): all three projections hold the one pattern (so any
// SMC reader, inspect --preview included, opens it), the attributes give the direction in z_dirs, the semi-angle
// and d. `options` gives the physics, the pattern size, thickness and multislice settings (probe_centre, probe grid),
// and the seed of frozen phonons. Throws InvalidArgument naming the option for settings it cannot honour.
SmcSample simulate_zone_pattern(const SimulationOptions& options, const Crystal& crystal, const std::string& name,
                                const ZoneSettings& zone);

}  // namespace cbednet::io::sim
