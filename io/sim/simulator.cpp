#include "io/sim/simulator.hpp"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "core/error.hpp"
#include "io/hdf5/smc_file.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/multislice/multislice.hpp"
#include "io/sim/projections.hpp"
#include "io/sim/space_group_table.hpp"

namespace cbednet::io::sim {
namespace {
// Coordinate of the split draw: the crystal uses attempts 0, 1, ... so the streams never meet.
constexpr std::uint64_t split_coordinate = ~0ull;
// First coordinate of the frozen-phonon draws: projection p, configuration c at phonon_coordinate + p * 2^20 + c.
constexpr std::uint64_t phonon_coordinate = 1ull << 62;

int parse_int(const std::string& text, const std::string& whole) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  CBEDNET_REQUIRE(used == text.size() && !text.empty(), InvalidArgument, "--space-groups: bad entry '", text, "' in '",
                  whole, "'");
  return value;
}
}  // namespace

Physics parse_physics(const std::string& text) {
  if (text == "kinematic") return Physics::kinematic;
  if (text == "multislice") return Physics::multislice;
  throw_error<InvalidArgument>("--physics: expected 'kinematic' or 'multislice', got '", text, "'");
}

void check_simulation_options(const SimulationOptions& options) {
  if (options.physics != Physics::multislice) return;
  std::vector<double> energies;
  for (int k = 0; k < options.samples_per_material; ++k) energies.push_back(sample_energy_keV(k));
  const auto grid = multislice::grid_geometry(options.multislice);
  // The projections have 1 A < d < 5 A: the smallest semi-angle (largest probe) at d = 5, the largest disc at d = 1.
  for (const double d : {5.0, 1.0})
    multislice::check_sampling(options.multislice, grid, d, energies, semi_angle_for(d));
  // A CUDA engine that cannot start (no CUDA in this build, no device) fails here, before any file.
  if (options.multislice.engine == multislice::EngineKind::cuda)
    (void)multislice::make_cuda_engine(options.multislice.device);
}

const char* split_name(Split split) {
  switch (split) {
    case Split::train:
      return "train";
    case Split::dev:
      return "dev";
    default:
      return "test";
  }
}

std::vector<int> parse_space_group_list(const std::string& text) {
  std::vector<int> out;
  if (text == "all" || text.empty()) {
    for (int i = 1; i <= 230; ++i) out.push_back(i);
    return out;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto dash = item.find('-', 1);
    const int lo = parse_int(dash == std::string::npos ? item : item.substr(0, dash), text);
    const int hi = dash == std::string::npos ? lo : parse_int(item.substr(dash + 1), text);
    CBEDNET_REQUIRE(lo >= 1 && hi <= 230 && lo <= hi, InvalidArgument, "--space-groups: '", item,
                    "' is not within 1..230");
    for (int i = lo; i <= hi; ++i) out.push_back(i);
  }
  CBEDNET_REQUIRE(!out.empty(), InvalidArgument, "--space-groups: empty list '", text, "'");
  return out;
}

std::array<double, 3> parse_split_fractions(const std::string& text) {
  std::array<double, 3> f{};
  std::stringstream in(text);
  std::string item;
  int n = 0;
  double sum = 0;
  while (std::getline(in, item, ',')) {
    CBEDNET_REQUIRE(n < 3, InvalidArgument, "--split-fractions: expected three numbers, got '", text, "'");
    std::size_t used = 0;
    double v = -1;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    CBEDNET_REQUIRE(used == item.size() && v >= 0 && std::isfinite(v), InvalidArgument,
                    "--split-fractions: bad value '", item, "' in '", text, "'");
    f[static_cast<std::size_t>(n++)] = v;
    sum += v;
  }
  CBEDNET_REQUIRE(n == 3 && sum > 0, InvalidArgument,
                  "--split-fractions: expected three non-negative numbers with a positive sum, got '", text, "'");
  for (auto& v : f) v /= sum;
  return f;
}

int material_space_group(const SimulationOptions& options, std::int64_t material) {
  if (options.space_groups.empty()) return static_cast<int>(material % 230) + 1;
  return options.space_groups[static_cast<std::size_t>(material) % options.space_groups.size()];
}

Split material_split(const SimulationOptions& options, std::int64_t material) {
  const RandomStream stream(options.seed, RngPurpose::simulate, static_cast<std::uint64_t>(material));
  const double u = stream.uniform(split_coordinate, 0);
  if (u < options.split_fractions[0]) return Split::train;
  if (u < options.split_fractions[0] + options.split_fractions[1]) return Split::dev;
  return Split::test;
}

double sample_energy_keV(int sample) { return 100.0 + 10.0 * sample; }

Material material_from_crystal(const SimulationOptions& options, std::int64_t index, Crystal crystal,
                               std::string name) {
  Material m;
  m.index = index;
  m.crystal = std::move(crystal);
  m.name = std::move(name);
  for (const auto& projection : choose_projections(m.crystal, 3))
    m.projections.push_back(prepare_projection(m.crystal, projection, options.cbed));
  return m;
}

Material make_material(const SimulationOptions& options, std::int64_t material) {
  const RandomStream stream(options.seed, RngPurpose::simulate, static_cast<std::uint64_t>(material));
  return material_from_crystal(options, material,
                               random_crystal(material_space_group(options, material), stream, options.crystal), "");
}

SmcSample sample_header(const SimulationOptions& options, const Material& material, int sample, int size) {
  SmcSample s;
  s.group_name = "sample_" + std::to_string(material.index) + "_" + std::to_string(sample);
  s.space_group = material.crystal.space_group;
  s.size = size;
  s.cbed_stack.assign(3 * static_cast<std::size_t>(size) * static_cast<std::size_t>(size), 0.0f);
  const double energy = sample_energy_keV(sample);
  std::array<double, 9> z_dirs{};
  std::array<double, 3> semi{}, d{};
  for (std::size_t p = 0; p < 3; ++p) {
    const auto& proj = material.projections[p].projection;
    semi[p] = semi_angle_for(proj.d);
    d[p] = proj.d;
    for (std::size_t i = 0; i < 3; ++i) z_dirs[i * 3 + p] = proj.hkl[i];  // column p is projection p
  }
  const auto& lp = material.crystal.params;
  s.material = !material.name.empty() ? material.name
                                      : "sim-" + std::to_string(options.seed) + "-" + std::to_string(material.index);
  s.formula = material.crystal.formula();
  s.energy_keV = static_cast<std::int64_t>(std::lround(energy));
  s.z_dirs = z_dirs;
  s.semi_angles_rad = semi;
  s.d_hkls_angstrom = d;
  s.abc_angstrom = std::array<double, 3>{lp.a, lp.b, lp.c};
  s.angles_degree = std::array<double, 3>{lp.alpha, lp.beta, lp.gamma};
  return s;
}

SmcSample render_sample(const SimulationOptions& options, const Material& material, int sample) {
  const int size = options.cbed.size;
  SmcSample s = sample_header(options, material, sample, size);
  const double energy = sample_energy_keV(sample);
  for (std::size_t p = 0; p < 3; ++p)
    render_cbed(material.projections[p], energy, (*s.semi_angles_rad)[p], options.cbed,
                s.cbed_stack.data() + p * static_cast<std::size_t>(size) * size);
  return s;
}

namespace {
// All samples of one material by multislice: per projection, the slice potentials of each frozen-phonon
// configuration serve every energy. `timing`, when given, accumulates the engine's timings.
std::vector<SmcSample> simulate_material_multislice(const SimulationOptions& options, const Material& m,
                                                    multislice::MultisliceTiming* timing = nullptr) {
  const int size = options.multislice.grid;
  const auto pixels = static_cast<std::size_t>(size) * static_cast<std::size_t>(size);
  std::vector<SmcSample> out;
  std::vector<double> energies;
  for (int k = 0; k < options.samples_per_material; ++k) {
    out.push_back(sample_header(options, m, k, size));
    energies.push_back(sample_energy_keV(k));
  }
  const RandomStream stream(options.seed, RngPurpose::simulate, static_cast<std::uint64_t>(m.index));
  const auto engine = options.multislice.engine == multislice::EngineKind::cuda
                          ? multislice::make_cuda_engine(options.multislice.device)
                          : multislice::make_cpu_engine(options.multislice.threads);
  const auto grid = multislice::grid_geometry(options.multislice);
  for (std::size_t p = 0; p < 3; ++p) {
    std::vector<float*> outs;
    for (auto& s : out) outs.push_back(s.cbed_stack.data() + p * pixels);
    const auto t = multislice::render_multislice(
        m.crystal, m.projections[p].projection, grid, options.multislice, energies, (*out[0].semi_angles_rad)[p],
        multislice::PhononSource{&stream, phonon_coordinate + (static_cast<std::uint64_t>(p) << 20)}, *engine, outs);
    if (timing != nullptr) {
      timing->potential_seconds += t.potential_seconds;
      timing->propagation_seconds += t.propagation_seconds;
      timing->slice_probe_steps += t.slice_probe_steps;
      timing->patterns += t.patterns;
    }
  }
  return out;
}
}  // namespace

std::vector<SmcSample> simulate_material(const SimulationOptions& options, std::int64_t material) {
  CBEDNET_REQUIRE(options.samples_per_material >= 1 && options.samples_per_material <= 10, InvalidArgument,
                  "--samples-per-material: must be 1..10 (energies 100..190 keV), got ", options.samples_per_material);
  return simulate_material(options, make_material(options, material));
}

std::vector<SmcSample> simulate_material(const SimulationOptions& options, const Material& m) {
  if (options.physics == Physics::multislice) return simulate_material_multislice(options, m);
  std::vector<SmcSample> out;
  for (int k = 0; k < options.samples_per_material; ++k) out.push_back(render_sample(options, m, k));
  return out;
}

SimulationSummary simulate_to_directory(const SimulationOptions& options, const std::string& directory,
                                        std::int64_t n_materials, int rank, int ranks, int threads,
                                        const std::function<void(std::int64_t)>& on_written) {
  CBEDNET_REQUIRE(n_materials >= 0, InvalidArgument, "--materials: must not be negative, got ", n_materials);
  CBEDNET_REQUIRE(ranks >= 1 && rank >= 0 && rank < ranks, InvalidArgument, "simulate: rank ", rank, " of ", ranks);
  std::vector<std::int64_t> mine;
  for (std::int64_t m = rank; m < n_materials; m += ranks) mine.push_back(m);
  return simulate_materials_to_directory(
      options, directory, mine, [&](std::int64_t m) { return make_material(options, m); }, rank, threads, on_written);
}

SimulationSummary simulate_materials_to_directory(const SimulationOptions& options, const std::string& directory,
                                                  const std::vector<std::int64_t>& mine,
                                                  const std::function<Material(std::int64_t)>& make, int rank,
                                                  int threads, const std::function<void(std::int64_t)>& on_written) {
  CBEDNET_REQUIRE(options.samples_per_material >= 1 && options.samples_per_material <= 10, InvalidArgument,
                  "--samples-per-material: must be 1..10 (energies 100..190 keV), got ", options.samples_per_material);
  check_simulation_options(options);
  const int n_threads = threads > 0 ? threads : omp_get_max_threads();

  SimulationSummary summary;
  std::array<std::unique_ptr<SmcFileWriter>, 3> writers;
  auto writer_for = [&](Split split) -> SmcFileWriter& {
    auto& w = writers[static_cast<std::size_t>(split)];
    if (!w) {
      const std::string name = split_name(split);
      const auto folder = std::filesystem::path(directory) / name;
      std::filesystem::create_directories(folder);
      const auto path = folder / ("batch_" + name + "_" + std::to_string(rank) + ".h5");
      w = std::make_unique<SmcFileWriter>(path.string());
      summary.files.push_back(path.string());
    }
    return *w;
  };

  // Batches of a few materials per thread: simulated in parallel, then written in material order.
  const std::size_t batch = 2 * static_cast<std::size_t>(n_threads);
  for (std::size_t first = 0; first < mine.size(); first += batch) {
    const std::size_t count = std::min(batch, mine.size() - first);
    std::vector<std::vector<SmcSample>> results(count);
    std::vector<std::exception_ptr> errors(count);
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (std::size_t i = 0; i < count; ++i) {
      try {
        results[i] = simulate_material(options, make(mine[first + i]));
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (errors[i]) std::rethrow_exception(errors[i]);
      const Split split = material_split(options, mine[first + i]);
      auto& w = writer_for(split);
      for (const auto& s : results[i]) w.write(s);
      ++summary.materials[static_cast<std::size_t>(split)];
      summary.samples[static_cast<std::size_t>(split)] += static_cast<std::int64_t>(results[i].size());
    }
    if (on_written) on_written(static_cast<std::int64_t>(count));
  }
  for (auto& w : writers)
    if (w) w->commit();
  return summary;
}

std::string multislice_benchmark_json(const SimulationOptions& options, std::int64_t n_materials) {
  using clock = std::chrono::steady_clock;
  check_simulation_options(options);
  double prepare_s = 0;
  multislice::MultisliceTiming timing;
  std::int64_t stacks = 0;
  for (std::int64_t m = 0; m < n_materials; ++m) {
    const auto t0 = clock::now();
    const Material material = make_material(options, m);
    prepare_s += std::chrono::duration<double>(clock::now() - t0).count();
    stacks += static_cast<std::int64_t>(simulate_material_multislice(options, material, &timing).size());
  }
  const auto& ms = options.multislice;
  const double total = prepare_s + timing.potential_seconds + timing.propagation_seconds;
  const double cores = ms.threads;
  const auto per = [](double seconds, double count) { return count > 0 ? seconds / count : 0.0; };
  std::ostringstream out;
  out.precision(6);
  const char* engine = ms.engine == multislice::EngineKind::cuda ? "cuda-cufft" : "cpu-fftw";
  out << "{\"benchmark\": \"simulate\", \"physics\": \"multislice\", \"engine\": \"" << engine
      << "\", \"size\": " << ms.grid << ", \"cell_angstrom\": " << ms.cell
      << ", \"thickness_angstrom\": " << ms.thickness << ", \"probes\": " << ms.probe_grid * ms.probe_grid
      << ", \"phonon_configurations\": " << ms.phonon_configurations << ", \"band_limit\": " << ms.band_limit
      << ", \"materials\": " << n_materials << ", \"samples_per_material\": " << options.samples_per_material
      << ", \"stacks\": " << stacks << ", \"patterns\": " << timing.patterns << ", \"threads\": " << ms.threads
      << ", \"seconds\": " << total << ", \"prepare_seconds\": " << prepare_s
      << ", \"potential_seconds\": " << timing.potential_seconds
      << ", \"propagation_seconds\": " << timing.propagation_seconds
      << ", \"slice_probe_steps\": " << timing.slice_probe_steps << ", \"seconds_per_slice_probe\": "
      << per(timing.propagation_seconds, static_cast<double>(timing.slice_probe_steps))
      << ", \"seconds_per_pattern\": " << per(total, static_cast<double>(timing.patterns))
      << ", \"patterns_per_s_per_core\": " << per(static_cast<double>(timing.patterns), total * cores)
      << ", \"stacks_per_s_per_core\": " << per(static_cast<double>(stacks), total * cores) << "}";
  return out.str();
}

std::string benchmark_json(const SimulationOptions& options, std::int64_t n_materials) {
  if (options.physics == Physics::multislice) return multislice_benchmark_json(options, n_materials);
  using clock = std::chrono::steady_clock;
  double prepare_s = 0, render_s = 0;
  std::int64_t stacks = 0;
  for (std::int64_t m = 0; m < n_materials; ++m) {
    const auto t0 = clock::now();
    const Material material = make_material(options, m);
    const auto t1 = clock::now();
    for (int k = 0; k < options.samples_per_material; ++k) {
      const SmcSample s = render_sample(options, material, k);
      stacks += s.cbed_stack.empty() ? 0 : 1;
    }
    const auto t2 = clock::now();
    prepare_s += std::chrono::duration<double>(t1 - t0).count();
    render_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const double total = prepare_s + render_s;
  std::ostringstream out;
  out.precision(6);
  out << "{\"benchmark\": \"simulate\", \"size\": " << options.cbed.size << ", \"materials\": " << n_materials
      << ", \"samples_per_material\": " << options.samples_per_material << ", \"stacks\": " << stacks
      << ", \"threads\": 1, \"seconds\": " << total << ", \"prepare_seconds\": " << prepare_s
      << ", \"render_seconds\": " << render_s
      << ", \"stacks_per_s_per_core\": " << (total > 0 ? static_cast<double>(stacks) / total : 0.0)
      << ", \"render_stacks_per_s_per_core\": " << (render_s > 0 ? static_cast<double>(stacks) / render_s : 0.0) << "}";
  return out.str();
}

}  // namespace cbednet::io::sim
