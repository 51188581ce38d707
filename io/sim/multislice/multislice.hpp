// Multislice CBED patterns of one projection of a crystal at several beam energies: the specimen is cut and sliced
// once per frozen-phonon configuration, its slice potentials computed once and shared by every energy, and the
// engine's probe-averaged patterns averaged over the configurations.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.hpp"
#include "io/sim/crystal.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/multislice/settings.hpp"
#include "io/sim/projections.hpp"

namespace cbednet::io::sim::multislice {

struct MultisliceTiming {
  double potential_seconds = 0;        // specimen cut, slicing and slice potentials
  double propagation_seconds = 0;      // the engine
  std::int64_t slice_probe_steps = 0;  // transmission + propagation steps of one probe through one slice
  std::int64_t patterns = 0;
};

// Where the frozen-phonon draws of this projection live in the material's stream (see PhononDraw).
struct PhononSource {
  const RandomStream* stream = nullptr;
  std::uint64_t base = 0;
};

// outs[k] (grid.ny * grid.nx floats each) receives the pattern at energies_keV[k] (overwritten). Checks the sampling
// rules first (InvalidArgument naming the option). `grid` gives the cell (square from the options, or rectangular).
MultisliceTiming render_multislice(const Crystal& crystal, const Projection& projection, const GridGeometry& grid,
                                   const MultisliceSettings& settings, const std::vector<double>& energies_keV,
                                   double semi_angle, const PhononSource& phonons, MultisliceEngine& engine,
                                   const std::vector<float*>& outs);

}  // namespace cbednet::io::sim::multislice
