// cbednet simulate: kinematic or multislice CBED stacks of random crystals, or of the CIF structures of
// --structures (app/simulate_structures.cpp), in the SMC-2019 layout (DIR/{train,dev,test}/batch_<split>_<rank>.h5),
// one file per rank and split; `--bench` prints single-core throughput as JSON instead.
#include <mpi.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "app/mpi_session.hpp"
#include "app/options.hpp"
#include "app/simulate_structures.hpp"
#include "app/subcommands.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "io/sim/simulator.hpp"

namespace cbednet::app {
namespace {

bool given(const po::variables_map& v, const char* name) { return v.count(name) != 0U && !v[name].defaulted(); }

// The multislice options: a preset first, then every option given explicitly on top of it.
void configure_multislice(const po::variables_map& v, io::sim::SimulationOptions& sim) {
  static constexpr const char* only_multislice[] = {"preset",       "cell",          "slice-thickness", "probe-grid",
                                                    "probe-window", "phonons",       "band-limit",      "defocus",
                                                    "cs",           "probe-threads", "engine"};
  if (sim.physics != io::sim::Physics::multislice) {
    for (const char* name : only_multislice)
      CBEDNET_REQUIRE(!given(v, name), InvalidArgument, "--", name, ": only with --physics multislice");
    return;
  }
  auto& ms = sim.multislice;
  if (v.count("preset") != 0U) {
    const auto preset = v["preset"].as<std::string>();
    CBEDNET_REQUIRE(preset == "smc", InvalidArgument, "--preset: expected 'smc', got '", preset, "'");
    ms = io::sim::multislice::smc_preset();
    if (!given(v, "size")) sim.cbed.size = ms.grid;
    if (!given(v, "thickness")) sim.cbed.thickness = ms.thickness;
  }
  const bool preset = v.count("preset") != 0U;
  ms.grid = sim.cbed.size;
  ms.thickness = sim.cbed.thickness;
  if (given(v, "cell"))
    ms.cell = v["cell"].as<double>();
  else if (!preset)  // SMC's 100 A, or the largest cell with 0.5 A pixels on a smaller grid
    ms.cell = std::min(100.0, io::sim::multislice::max_pixel_size * sim.cbed.size);
  if (given(v, "slice-thickness") || !preset) ms.slice_thickness = v["slice-thickness"].as<double>();
  if (given(v, "probe-grid") || !preset) ms.probe_grid = v["probe-grid"].as<int>();
  if (given(v, "probe-window") || !preset) ms.probe_window = v["probe-window"].as<double>();
  if (given(v, "phonons") || !preset) ms.phonon_configurations = v["phonons"].as<int>();
  if (given(v, "band-limit") || !preset) ms.band_limit = v["band-limit"].as<double>();
  ms.defocus = v["defocus"].as<double>();
  ms.cs_mm = v["cs"].as<double>();
  ms.threads = v["probe-threads"].as<int>();
  const auto engine = v["engine"].as<std::string>();
  CBEDNET_REQUIRE(engine == "cpu" || engine == "cuda", InvalidArgument, "--engine: expected 'cpu' or 'cuda', got '",
                  engine, "'");
  ms.engine = engine == "cuda" ? io::sim::multislice::EngineKind::cuda : io::sim::multislice::EngineKind::cpu;
  ms.device = world_rank();
  CBEDNET_REQUIRE(ms.threads >= 1, InvalidArgument, "--probe-threads: must be at least 1, got ", ms.threads);
}

po::options_description simulate_options() {
  po::options_description options("Simulate options");
  // clang-format off
  options.add_options()("out", po::value<std::string>(), "output directory (train/, dev/, test/ are created)")(
      "materials", po::value<long long>()->default_value(100), "number of materials (crystals), over all ranks")(
      "space-groups", po::value<std::string>()->default_value("all"),
      "space groups to draw, material m gets entry m mod length: 'all' or a list like 14,62,221-230")(
      "size", po::value<int>()->default_value(512), "pattern size S (even; kinematic: the field is +-2.56 1/A at any S; multislice: pixel 1/--cell)")(
      "seed", po::value<unsigned long long>()->default_value(1), "random seed (samples depend only on it)")(
      "samples-per-material", po::value<int>()->default_value(10),
      "energies per material, 1..10: 100, 110, ... keV")(
      "threads", po::value<int>()->default_value(0), "threads per rank (0: OpenMP default)")(
      "split-fractions", po::value<std::string>()->default_value("0.8,0.1,0.1"),
      "train,dev,test fractions of the materials")(
      "thickness", po::value<double>()->default_value(100.0), "specimen thickness, Angstrom")(
      "bench", po::bool_switch(), "measure single-core stacks/s (no files) and print JSON")(
      "physics", po::value<std::string>()->default_value("kinematic"),
      "kinematic (disc rendering, Friedel's law holds) or multislice (dynamical, FFTW)")(
      "preset", po::value<std::string>(),
      "multislice: 'smc' = SMC-2019's settings (512^2 over 100 A, slices of d_hkl, 8x8 probes, 1 phonon "
      "configuration, band limit at Nyquist); explicit options override it")(
      "cell", po::value<double>(), "multislice: lateral cell edge, Angstrom (default min(100, S / 2): pattern pixel 1 / L)")(
      "slice-thickness", po::value<double>()->default_value(0.0),
      "multislice: slice thickness, Angstrom (0: d_hkl of each projection)")(
      "probe-grid", po::value<int>()->default_value(8), "multislice: N x N probe positions averaged")(
      "probe-window", po::value<double>()->default_value(5.0),
      "multislice: side of the square of probe positions at the cell centre, Angstrom")(
      "phonons", po::value<int>()->default_value(1),
      "multislice: frozen-phonon configurations averaged (0: static lattice with Debye-Waller damping)")(
      "band-limit", po::value<double>()->default_value(2.0 / 3.0, "2/3"),
      "multislice: kept fraction of the Nyquist frequency (2/3: Kirkland's anti-aliasing rule)")(
      "defocus", po::value<double>()->default_value(0.0), "multislice: probe defocus, Angstrom (positive: underfocus)")(
      "cs", po::value<double>()->default_value(0.0), "multislice: spherical aberration C3, mm")(
      "engine", po::value<std::string>()->default_value("cpu"),
      "multislice: cpu (FFTW) or cuda (cuFFT on GPU rank mod devices; unverified on hardware so far)")(
      "probe-threads", po::value<int>()->default_value(1),
      "multislice: threads per material (probe positions in parallel); a rank uses --threads x this")(
      "structures", po::value<std::string>(),
      "CIF file or folder of *.cif files: simulate these materials (one per file) instead of random crystals")(
      "skip-bad", po::bool_switch(), "--structures: skip (list and count) unreadable or refused CIF files instead of "
      "stopping before anything is written")(
      "symprec", po::value<double>()->default_value(0.01), "--structures: spglib tolerance labelling each structure, A")(
      "min-distance", po::value<double>()->default_value(0.5),
      "--structures: fully occupied atoms closer than this (A) are refused")(
      "default-b", po::value<double>()->default_value(0.5),
      "--structures: Debye-Waller B (A^2) of atoms without U_iso, B_iso or U_ij")(
      "zone", po::value<std::vector<std::string>>()->multitoken(),
      "one pattern of the one CIF along the zone axis [U V W] (direct lattice) into the file --out")(
      "beam", po::value<std::vector<std::string>>()->multitoken(),
      "one pattern along the normal of the plane (H K L), SMC-2019's rule, into the file --out")(
      "energy-kev", po::value<double>()->default_value(200.0), "--zone/--beam: beam energy, keV")(
      "semiangle", po::value<double>()->default_value(0.0),
      "--zone/--beam: convergence semi-angle, mrad (0: lambda(100 kV) / 4d, d of the plane or of the zone's "
      "first reflection)")(
      "probe", po::value<std::string>(),
      "--zone/--beam, multislice: probe position x,y as fractions of the cell (0.5,0.5: the crystal's origin); "
      "one probe unless --probe-grid is given");
  // clang-format on
  return options;
}

// Random crystals into DIR/{train,dev,test}/, each rank its share of the materials; one JSON summary line.
int simulate_random_crystals(const po::variables_map& v, const io::sim::SimulationOptions& sim, const std::string& out,
                             long long materials, int threads) {
  const auto start = std::chrono::steady_clock::now();
  // Rank 0 reports its own share of the materials (every rank has about the same).
  Progress progress("simulate", "materials", (materials + world_size() - 1 - world_rank()) / world_size(),
                    Progress::wanted(v["quiet"].as<bool>()));
  const auto summary = io::sim::simulate_to_directory(sim, out, materials, world_rank(), world_size(), threads,
                                                      [&](std::int64_t n) { progress.advance(n); });
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto totals = split_totals(summary);
  if (world_rank() == 0) {
    std::cout << "{\"out\": \"" << out << "\", \"ranks\": " << world_size()
              << ", \"materials\": {\"train\": " << totals[0] << ", \"dev\": " << totals[1]
              << ", \"test\": " << totals[2] << "}, \"samples\": {\"train\": " << totals[3]
              << ", \"dev\": " << totals[4] << ", \"test\": " << totals[5] << "}, \"size\": " << sim.cbed.size
              << ", \"seconds\": " << seconds << "}\n";
  }
  return 0;
}

}  // namespace

int run_simulate(const Args& args) {
  const CommandSpec spec{
      "simulate",
      "Simulate CBED stacks [3,S,S] of random crystals or CIF structures (kinematic or multislice) into the "
      "SMC-2019 HDF5 layout.",
      "cbednet simulate --out DIR (--materials N [--space-groups LIST|all] | --structures DIR|FILE.cif [--skip-bad]\n"
      "                        [--symprec A] [--min-distance A] [--default-b B]) [--size S] [--seed K]\n"
      "                        [--samples-per-material M] [--threads T] [--split-fractions 0.8,0.1,0.1] [--bench]\n"
      "                        [--physics kinematic|multislice [--preset smc] [--cell L] [--slice-thickness DZ]\n"
      "                         [--probe-grid N] [--probe-window W] [--phonons C] [--band-limit F] [--defocus DF]\n"
      "                         [--cs MM] [--probe-threads P] [--engine cpu|cuda]]\n"
      "       cbednet simulate --structures FILE.cif --out FILE.h5 (--zone U V W | --beam H K L) [--energy-kev E]\n"
      "                        [--thickness T] [--semiangle MRAD] [--size S] [--physics kinematic|multislice\n"
      "                         [--probe X,Y] ...]"};
  auto options = simulate_options();
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  const auto& v = *vm;

  io::sim::SimulationOptions sim;
  sim.seed = v["seed"].as<unsigned long long>();
  sim.space_groups = io::sim::parse_space_group_list(v["space-groups"].as<std::string>());
  sim.samples_per_material = v["samples-per-material"].as<int>();
  CBEDNET_REQUIRE(sim.samples_per_material >= 1 && sim.samples_per_material <= 10, InvalidArgument,
                  "--samples-per-material: must be 1..10, got ", sim.samples_per_material);
  sim.split_fractions = io::sim::parse_split_fractions(v["split-fractions"].as<std::string>());
  sim.cbed.size = v["size"].as<int>();
  CBEDNET_REQUIRE(sim.cbed.size >= 16 && sim.cbed.size % 2 == 0, InvalidArgument,
                  "--size: must be even and at least 16, got ", sim.cbed.size);
  sim.cbed.thickness = v["thickness"].as<double>();
  CBEDNET_REQUIRE(sim.cbed.thickness > 0, InvalidArgument, "--thickness: must be positive");
  sim.physics = io::sim::parse_physics(v["physics"].as<std::string>());
  configure_multislice(v, sim);
  if (zone_mode(v)) {
    CBEDNET_REQUIRE(v.count("out") != 0U, InvalidArgument, "cbednet simulate: --out FILE.h5 is required");
    return simulate_zone(v, sim, v["out"].as<std::string>());
  }
  for (const char* name : {"energy-kev", "semiangle", "probe"})
    CBEDNET_REQUIRE(!given(v, name), InvalidArgument, "--", name, ": only with --zone or --beam");
  io::sim::check_simulation_options(sim);
  const long long materials = v["materials"].as<long long>();
  CBEDNET_REQUIRE(materials >= 0, InvalidArgument, "--materials: must not be negative, got ", materials);
  const int threads = v["threads"].as<int>();
  CBEDNET_REQUIRE(threads >= 0, InvalidArgument, "--threads: must not be negative, got ", threads);

  CBEDNET_REQUIRE(!v["bench"].as<bool>() || v.count("structures") == 0U, InvalidArgument,
                  "--bench: measures random crystals only, not with --structures");
  if (v["bench"].as<bool>()) {
    if (world_rank() == 0) std::cout << io::sim::benchmark_json(sim, materials) << '\n';
    return 0;
  }
  CBEDNET_REQUIRE(v.count("out") != 0U, InvalidArgument, "cbednet simulate: --out DIR is required");
  const std::string out = v["out"].as<std::string>();
  if (v.count("structures") != 0U) {
    for (const char* name : {"materials", "space-groups"})
      CBEDNET_REQUIRE(!given(v, name), InvalidArgument, "--", name,
                      ": not with --structures (one material per CIF file)");
    return simulate_structures(v, sim, out, threads);
  }
  for (const char* name : {"skip-bad", "symprec", "min-distance", "default-b"})
    CBEDNET_REQUIRE(!given(v, name), InvalidArgument, "--", name, ": only with --structures");

  return simulate_random_crystals(v, sim, out, materials, threads);
}

}  // namespace cbednet::app
