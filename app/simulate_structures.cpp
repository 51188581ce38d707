#include "app/simulate_structures.hpp"

#include <mpi.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "app/mpi_session.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"

namespace cbednet::app {
namespace {

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized != 0 && finalized == 0 && world_size() > 1;
}

template <std::size_t N>
std::array<long long, N> sum_over_ranks(const std::array<long long, N>& mine) {
  std::array<long long, N> total = mine;
  if (mpi_running()) MPI_Allreduce(mine.data(), total.data(), N, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  return total;
}

struct ReadResult {
  std::map<std::int64_t, io::sim::CifStructure> good;  // by material index (file position)
  std::vector<std::string> bad;                        // one message per bad file, each naming it
};

// This rank's files (m = rank, rank + ranks, ...), each read and checked; warnings go to stderr as they appear.
ReadResult read_my_structures(const std::vector<std::string>& files, const io::sim::CifReadOptions& options) {
  ReadResult r;
  for (std::size_t m = static_cast<std::size_t>(world_rank()); m < files.size();
       m += static_cast<std::size_t>(world_size())) {
    try {
      auto structure = io::sim::read_cif_structure(files[m], options);
      for (const auto& w : structure.warnings) std::cerr << "cbednet simulate: warning: " << w << '\n';
      r.good.emplace(static_cast<std::int64_t>(m), std::move(structure));
    } catch (const InvalidArgument& e) {
      r.bad.emplace_back(e.what());
    }
  }
  return r;
}

}  // namespace

io::sim::CifReadOptions cif_read_options(const po::variables_map& v) {
  io::sim::CifReadOptions o;
  o.symprec = v["symprec"].as<double>();
  o.min_distance = v["min-distance"].as<double>();
  o.default_b_iso = v["default-b"].as<double>();
  CBEDNET_REQUIRE(o.symprec > 0 && o.symprec < 1, InvalidArgument, "--symprec: must be in (0, 1) A, got ", o.symprec);
  CBEDNET_REQUIRE(o.min_distance > 0, InvalidArgument, "--min-distance: must be positive, got ", o.min_distance);
  CBEDNET_REQUIRE(o.default_b_iso >= 0, InvalidArgument, "--default-b: must not be negative, got ", o.default_b_iso);
  return o;
}

std::array<long long, 6> split_totals(const io::sim::SimulationSummary& mine) {
  std::array<long long, 6> counts{};
  for (std::size_t i = 0; i < 3; ++i) {
    counts[i] = mine.materials[i];
    counts[3 + i] = mine.samples[i];
  }
  return sum_over_ranks(counts);
}

int simulate_structures(const po::variables_map& v, const io::sim::SimulationOptions& sim, const std::string& out,
                        int threads) {
  const auto start = std::chrono::steady_clock::now();
  const auto files = io::sim::list_cif_files(v["structures"].as<std::string>());
  const bool skip_bad = v["skip-bad"].as<bool>();
  const ReadResult read = read_my_structures(files, cif_read_options(v));

  // Every rank learns how many files were bad before anyone writes: without --skip-bad one bad file stops all.
  const auto bad_total = sum_over_ranks(std::array<long long, 1>{static_cast<long long>(read.bad.size())})[0];
  for (const auto& message : read.bad)
    std::cerr << "cbednet simulate: " << (skip_bad ? "skipped: " : "bad structure: ") << message << '\n';
  std::cerr.flush();
  if (mpi_running()) MPI_Barrier(MPI_COMM_WORLD);  // every rank's list is out before any rank stops
  CBEDNET_REQUIRE(bad_total == 0 || skip_bad, InvalidArgument, "simulate --structures: ", bad_total, " of ",
                  files.size(),
                  " CIF files are bad (each named above); nothing was written. Fix them or pass "
                  "--skip-bad to simulate the others");

  std::vector<std::int64_t> mine;
  for (const auto& [m, structure] : read.good) mine.push_back(m);
  Progress progress("simulate", "materials", static_cast<std::int64_t>(mine.size()),
                    Progress::wanted(v["quiet"].as<bool>()));
  const auto summary = io::sim::simulate_materials_to_directory(
      sim, out, mine,
      [&](std::int64_t m) {
        const auto& s = read.good.at(m);
        return io::sim::material_from_crystal(sim, m, s.crystal, std::filesystem::path(s.source).stem().string());
      },
      world_rank(), threads, [&](std::int64_t n) { progress.advance(n); });
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto totals = split_totals(summary);
  if (world_rank() == 0)
    std::cout << "{\"out\": \"" << out << "\", \"ranks\": " << world_size() << ", \"structures\": " << files.size()
              << ", \"skipped\": " << bad_total << ", \"materials\": {\"train\": " << totals[0]
              << ", \"dev\": " << totals[1] << ", \"test\": " << totals[2]
              << "}, \"samples\": {\"train\": " << totals[3] << ", \"dev\": " << totals[4]
              << ", \"test\": " << totals[5] << "}, \"size\": " << sim.cbed.size << ", \"seconds\": " << seconds
              << "}\n";
  return 0;
}

}  // namespace cbednet::app
