#include "io/sim/multislice/multislice.hpp"

#include <algorithm>
#include <chrono>

#include "core/error.hpp"
#include "io/sim/multislice/fft.hpp"
#include "io/sim/multislice/potential.hpp"
#include "io/sim/multislice/specimen.hpp"

namespace cbednet::io::sim::multislice {

MultisliceTiming render_multislice(const Crystal& crystal, const Projection& projection, const GridGeometry& grid,
                                   const MultisliceSettings& settings, const std::vector<double>& energies_keV,
                                   double semi_angle, const PhononSource& phonons, MultisliceEngine& engine,
                                   const std::vector<float*>& outs) {
  using clock = std::chrono::steady_clock;
  CBEDNET_REQUIRE(outs.size() == energies_keV.size(), InvalidArgument, "multislice: ", outs.size(), " outputs for ",
                  energies_keV.size(), " energies");
  check_sampling(settings, grid, projection.d, energies_keV, semi_angle);
  const bool frozen = settings.phonon_configurations > 0;
  CBEDNET_REQUIRE(!frozen || phonons.stream != nullptr, InvalidArgument,
                  "multislice: frozen phonons need the material's random stream");
  const std::size_t n = static_cast<std::size_t>(grid.nx) * static_cast<std::size_t>(grid.ny);
  for (float* out : outs) std::fill(out, out + n, 0.0f);

  const Fft2d fft(grid.nx, grid.ny, 1);
  const auto probes = probe_positions(settings, grid);
  const SpecimenBox box{grid.lx, grid.ly, settings.thickness, slice_thickness_for(settings, projection.d)};
  SlicePotentialBuilder potential(grid, !frozen);
  const int configurations = std::max(1, settings.phonon_configurations);
  const double weight = 1.0 / configurations;
  MultisliceTiming timing;
  for (int c = 0; c < configurations; ++c) {
    const auto t0 = clock::now();
    const auto slices = build_slices(crystal, projection, box,
                                     PhononDraw{phonons.stream, phonons.base, static_cast<std::uint64_t>(c), frozen});
    SliceStack stack{grid, {}, {}};
    for (const auto& slice : slices) {
      stack.potentials.push_back(potential(slice.atoms, fft));
      stack.thickness.push_back(slice.thickness);
    }
    const auto t1 = clock::now();
    for (std::size_t k = 0; k < energies_keV.size(); ++k)
      engine.accumulate_pattern(stack, BeamSettings{energies_keV[k], semi_angle, settings.defocus, settings.cs_mm},
                                probes, weight, outs[k]);
    const auto t2 = clock::now();
    timing.potential_seconds += std::chrono::duration<double>(t1 - t0).count();
    timing.propagation_seconds += std::chrono::duration<double>(t2 - t1).count();
    timing.slice_probe_steps += static_cast<std::int64_t>(slices.size() * probes.size() * energies_keV.size());
  }
  timing.patterns = static_cast<std::int64_t>(energies_keV.size());
  return timing;
}

void MultisliceEngine::accumulate_pattern(const SliceStack& slices, const BeamSettings& beam,
                                          const std::vector<std::array<double, 2>>& probes, double weight, float* out) {
  CBEDNET_REQUIRE(!slices.potentials.empty() && slices.potentials.size() == slices.thickness.size(), InvalidArgument,
                  "multislice: ", slices.potentials.size(), " slice potentials for ", slices.thickness.size(),
                  " thicknesses");
  CBEDNET_REQUIRE(!probes.empty(), InvalidArgument, "multislice: no probe positions");
  do_accumulate_pattern(slices, beam, probes, weight, out);
}

}  // namespace cbednet::io::sim::multislice
