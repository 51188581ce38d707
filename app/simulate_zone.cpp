// cbednet simulate --structures FILE.cif --zone U V W | --beam H K L: one material in one geometry (energy,
// thickness, semi-angle, probe position), kinematic or multislice, into one SMC-layout file (io/sim/structure/
// zone_pattern.hpp) that inspect --preview draws.
#include <array>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app/mpi_session.hpp"
#include "app/simulate_structures.hpp"
#include "core/error.hpp"
#include "io/hdf5/smc_file.hpp"
#include "io/sim/structure/zone_pattern.hpp"

namespace cbednet::app {
namespace {

// "U V W", "U,V,W" or three tokens: three integers, else InvalidArgument naming the option.
std::array<int, 3> parse_indices(const std::vector<std::string>& tokens, const char* option) {
  std::string joined;
  for (const auto& t : tokens) joined += t + " ";
  for (auto& ch : joined)
    if (ch == ',') ch = ' ';
  std::istringstream in(joined);
  std::array<int, 3> out{};
  std::string extra;
  for (auto& v : out)
    CBEDNET_REQUIRE(static_cast<bool>(in >> v), InvalidArgument, "--", option, ": expected three integers, got '",
                    joined, "'");
  CBEDNET_REQUIRE(!(in >> extra), InvalidArgument, "--", option, ": expected three integers, got '", joined, "'");
  return out;
}

std::array<double, 2> parse_probe(const std::string& text) {
  std::string spaced = text;
  for (auto& ch : spaced)
    if (ch == ',') ch = ' ';
  std::istringstream in(spaced);
  std::array<double, 2> out{};
  std::string extra;
  CBEDNET_REQUIRE(static_cast<bool>(in >> out[0] >> out[1]) && !(in >> extra), InvalidArgument,
                  "--probe: expected x,y (fractions of the cell), got '", text, "'");
  return out;
}

}  // namespace

bool zone_mode(const po::variables_map& v) { return v.count("zone") != 0U || v.count("beam") != 0U; }

int simulate_zone(const po::variables_map& v, io::sim::SimulationOptions sim, const std::string& out) {
  CBEDNET_REQUIRE(v.count("zone") == 0U || v.count("beam") == 0U, InvalidArgument,
                  "--zone and --beam: give one direction");
  CBEDNET_REQUIRE(v.count("structures") != 0U, InvalidArgument, v.count("zone") != 0U ? "--zone" : "--beam",
                  ": needs --structures FILE.cif (one material)");
  for (const char* name : {"materials", "space-groups", "samples-per-material", "split-fractions", "skip-bad", "bench"})
    CBEDNET_REQUIRE(v.count(name) == 0U || v[name].defaulted(), InvalidArgument, "--", name,
                    ": not with --zone or --beam (one pattern of one material)");
  const bool multislice = sim.physics == io::sim::Physics::multislice;
  io::sim::ZoneSettings zone;
  zone.direction.zone_axis = v.count("zone") != 0U;
  const char* option = zone.direction.zone_axis ? "zone" : "beam";
  zone.direction.indices = parse_indices(v[option].as<std::vector<std::string>>(), option);
  zone.energy_keV = v["energy-kev"].as<double>();
  zone.semi_angle = v["semiangle"].as<double>() * 1e-3;
  CBEDNET_REQUIRE(std::isfinite(zone.energy_keV) && zone.energy_keV > 0, InvalidArgument,
                  "--energy-kev: must be positive, got ", zone.energy_keV);
  CBEDNET_REQUIRE(zone.semi_angle >= 0 && zone.semi_angle <= 0.1, InvalidArgument,
                  "--semiangle: must be in (0, 100] mrad (0: the default rule), got ", zone.semi_angle * 1e3);
  if (v.count("probe") != 0U) {
    CBEDNET_REQUIRE(multislice, InvalidArgument,
                    "--probe: only with --physics multislice (the kinematic pattern does not depend on it)");
    sim.multislice.probe_centre = parse_probe(v["probe"].as<std::string>());
    if (v["probe-grid"].defaulted()) sim.multislice.probe_grid = 1;
  }

  const auto files = io::sim::list_cif_files(v["structures"].as<std::string>());
  CBEDNET_REQUIRE(files.size() == 1, InvalidArgument, "--", option, ": one material at a time, but --structures has ",
                  files.size(), " CIF files");
  if (world_rank() != 0) return 0;  // one pattern: rank 0 alone
  const auto structure = io::sim::read_cif_structure(files.front(), cif_read_options(v));
  for (const auto& w : structure.warnings) std::cerr << "cbednet simulate: warning: " << w << '\n';
  const auto name = std::filesystem::path(files.front()).stem().string();
  const auto sample = io::sim::simulate_zone_pattern(sim, structure.crystal, name, zone);

  const auto parent = std::filesystem::path(out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  io::SmcFileWriter writer(out);
  writer.write(sample);
  writer.commit();
  const auto& i = zone.direction.indices;
  std::cout << "{\"out\": \"" << out << "\", \"material\": \"" << name
            << "\", \"space_group\": " << structure.crystal.space_group << ", \"" << option << "\": [" << i[0] << ", "
            << i[1] << ", " << i[2] << "], \"physics\": \"" << (multislice ? "multislice" : "kinematic")
            << "\", \"energy_kev\": " << zone.energy_keV
            << ", \"semiangle_mrad\": " << (*sample.semi_angles_rad)[0] * 1e3 << ", \"size\": " << sample.size << "}\n";
  return 0;
}

}  // namespace cbednet::app
