// The CBED simulator: materials (random crystal + three projections) rendered at several beam energies into
// SMC-2019 samples, and the driver that writes them in the original layout
// DIR/{train,dev,test}/batch_<split>_<rank>.h5.
//
// Every material is a pure function of (seed, material index): its space group, crystal, split and pixels do not
// depend on the rank or thread that simulates it, so any (ranks, threads) gives the same samples.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/sim/cbed_pattern.hpp"
#include "io/sim/multislice/settings.hpp"
#include "io/sim/random_crystal.hpp"
#include "io/smc_sample.hpp"

namespace cbednet::io::sim {

// Kinematic disc rendering (cbed_pattern.hpp) or dynamical multislice (multislice/).
enum class Physics { kinematic, multislice };
// "kinematic" or "multislice"; throws InvalidArgument naming --physics.
Physics parse_physics(const std::string& text);

struct SimulationOptions {
  std::uint64_t seed = 1;
  std::vector<int> space_groups;                         // material m is of space_groups[m % size]; empty means 1..230
  int samples_per_material = 10;                         // 1..10: energies 100, 110, ..., keV (sample_<m>_<k>)
  std::array<double, 3> split_fractions{0.8, 0.1, 0.1};  // train, dev, test
  CbedSettings cbed;
  RandomCrystalOptions crystal;
  Physics physics = Physics::kinematic;
  multislice::MultisliceSettings multislice;  // used with Physics::multislice; its grid is the pattern size
};

// With Physics::multislice: checks the sampling rules for every energy and every projection the simulator can choose
// (1 A < d < 5 A), so a run fails before its first file rather than at an unlucky material. InvalidArgument.
void check_simulation_options(const SimulationOptions& options);

enum class Split : int { train = 0, dev = 1, test = 2 };
const char* split_name(Split split);

// "all", or a comma list of numbers and ranges: "14,62,225", "1-74,225". Throws InvalidArgument naming the option.
std::vector<int> parse_space_group_list(const std::string& text);
// "0.8,0.1,0.1": three non-negative numbers with a positive sum (normalised). Throws InvalidArgument.
std::array<double, 3> parse_split_fractions(const std::string& text);

int material_space_group(const SimulationOptions& options, std::int64_t material);
Split material_split(const SimulationOptions& options, std::int64_t material);
double sample_energy_keV(int sample);

struct Material {
  std::int64_t index = 0;
  Crystal crystal;
  std::vector<ProjectionReflections> projections;  // three
  std::string name;  // the samples' material attribute; "" means "sim-<seed>-<index>" (random crystals)
};
Material make_material(const SimulationOptions& options, std::int64_t material);
// A material of a given crystal (e.g. read from a CIF file): its three projections chosen and prepared.
Material material_from_crystal(const SimulationOptions& options, std::int64_t index, Crystal crystal, std::string name);
// All samples of one material: group names sample_<material>_<k>, every attribute set.
std::vector<SmcSample> simulate_material(const SimulationOptions& options, std::int64_t material);
std::vector<SmcSample> simulate_material(const SimulationOptions& options, const Material& material);
SmcSample render_sample(const SimulationOptions& options, const Material& material, int sample);
// A sample's attributes (group name, label, energy, projections, lattice) with a zeroed [3, size, size] stack.
SmcSample sample_header(const SimulationOptions& options, const Material& material, int sample, int size);

struct SimulationSummary {
  std::array<std::int64_t, 3> materials{};  // per split, on this rank
  std::array<std::int64_t, 3> samples{};
  std::vector<std::string> files;  // written by this rank
};

// Simulates materials m = rank, rank + ranks, ... < n_materials with `threads` threads (0: OpenMP default) and
// writes this rank's files under `directory`. Files of a split are created only when the rank has samples in it.
// on_written(k): k more of this rank's materials are written (for progress reports).
SimulationSummary simulate_to_directory(const SimulationOptions& options, const std::string& directory,
                                        std::int64_t n_materials, int rank, int ranks, int threads,
                                        const std::function<void(std::int64_t)>& on_written = {});
// The same for the given materials of this rank (indices in increasing order; split and stream by index), each made
// by `make` (called concurrently from several threads).
SimulationSummary simulate_materials_to_directory(const SimulationOptions& options, const std::string& directory,
                                                  const std::vector<std::int64_t>& indices,
                                                  const std::function<Material(std::int64_t)>& make, int rank,
                                                  int threads,
                                                  const std::function<void(std::int64_t)>& on_written = {});

// Single-thread throughput of the whole pipeline without I/O (materials of the options' groups): JSON text with
// stacks_per_s_per_core, time split between crystal/projection preparation and rendering. For multislice also the
// time in slice potentials and in the engine, per slice-probe step and per pattern.
std::string benchmark_json(const SimulationOptions& options, std::int64_t n_materials);
// The multislice part of benchmark_json: time per slice-probe step, per pattern, patterns/s per core (engine threads).
std::string multislice_benchmark_json(const SimulationOptions& options, std::int64_t n_materials);

}  // namespace cbednet::io::sim
