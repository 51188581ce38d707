// The space-group table and the random crystals: every label 1..230 is reproduced by spglib's detection.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "io/sim/crystal.hpp"
#include "io/sim/random_crystal.hpp"
#include "io/sim/space_group_table.hpp"

namespace cbednet::io::sim {
namespace {

TEST(SimSpaceGroups, TableEntries) {
  const auto& si = space_group_info(227);
  EXPECT_EQ(si.number, 227);
  EXPECT_EQ(si.symbol, "Fd-3m");
  EXPECT_EQ(si.point_group, "m-3m");
  EXPECT_EQ(si.crystal_system, "cubic");
  EXPECT_EQ(si.hall_number, 525);
  EXPECT_EQ(space_group_info(1).symbol, "P1");
  EXPECT_EQ(space_group_info(1).hall_number, 1);
  EXPECT_EQ(space_group_info(14).symbol, "P2_1/c");
  EXPECT_EQ(space_group_info(14).point_group, "2/m");
  EXPECT_EQ(space_group_info(62).symbol, "Pnma");
  EXPECT_EQ(space_group_info(166).symbol, "R-3m");
  EXPECT_EQ(space_group_info(194).symbol, "P6_3/mmc");
  // Default Hall numbers (cbed-physics.md section 5.2).
  const std::pair<int, int> hall[] = {{2, 2},     {14, 81},   {15, 90},   {62, 292},  {146, 433},
                                      {148, 436}, {166, 458}, {167, 460}, {194, 488}, {221, 517},
                                      {225, 523}, {229, 529}, {230, 530}, {75, 349},  {143, 430}};
  for (const auto& [sg, h] : hall) EXPECT_EQ(space_group_info(sg).hall_number, h) << "SG " << sg;
  EXPECT_THROW(space_group_info(0), InvalidArgument);
  EXPECT_THROW(space_group_info(231), InvalidArgument);
  EXPECT_THROW(crystal_system_index(231), InvalidArgument);
  EXPECT_THROW(point_group_index(-1), InvalidArgument);
}

TEST(SimSpaceGroups, SystemsAndPointGroups) {
  const int first[8] = {1, 3, 16, 75, 143, 168, 195, 231};
  for (int s = 0; s < 7; ++s)
    for (int sg = first[s]; sg < first[s + 1]; ++sg) {
      EXPECT_EQ(crystal_system_index(sg), s) << "SG " << sg;
      EXPECT_EQ(space_group_info(sg).crystal_system, crystal_system_name(s));
    }
  std::set<int> seen;
  int previous = -1;
  for (int sg = 1; sg <= 230; ++sg) {
    const int pg = point_group_index(sg);
    ASSERT_GE(pg, 0);
    ASSERT_LT(pg, 32);
    EXPECT_GE(pg, previous) << "point groups follow ITA order, SG " << sg;
    previous = pg;
    seen.insert(pg);
  }
  EXPECT_EQ(seen.size(), 32u);
  EXPECT_EQ(point_group_index(1), 0);
  EXPECT_EQ(point_group_index(2), 1);
  EXPECT_EQ(point_group_index(227), 31);
  EXPECT_STREQ(point_group_name(point_group_index(186)), "6mm");
  EXPECT_STREQ(point_group_name(point_group_index(216)), "-43m");
}

TEST(SimSpaceGroups, OperationCounts) {
  const std::pair<int, std::size_t> counts[] = {{1, 1},     {2, 2},    {81, 4},   {292, 8},  {433, 9},
                                                {434, 3},   {458, 36}, {488, 24}, {517, 48}, {523, 192},
                                                {525, 192}, {529, 96}, {530, 96}};
  for (const auto& [hall, n] : counts) EXPECT_EQ(symmetry_operations(hall).size(), n) << "Hall " << hall;
}

TEST(SimSpaceGroups, OrbitExpansionCollapsesSpecialPositions) {
  const auto& fm3m = symmetry_operations(523);
  EXPECT_EQ(expand_orbit(fm3m, {0, 0, 0}).size(), 4u);           // 4a
  EXPECT_EQ(expand_orbit(fm3m, {0.25, 0.25, 0.25}).size(), 8u);  // 8c
  EXPECT_EQ(expand_orbit(fm3m, {0.1, 0.2, 0.33}).size(), 192u);  // general
}

// The label of every generated crystal is what spglib detects, both at the generator's loose tolerance and
// exactly, for all 230 types.
TEST(SimSpaceGroups, EveryGroupRoundTripsThroughSpglib) {
  const auto start = std::chrono::steady_clock::now();
  int total_attempts = 0;
  for (int sg = 1; sg <= 230; ++sg) {
    int attempts = 0;
    const Crystal c =
        random_crystal(sg, RandomStream(2024, RngPurpose::simulate, static_cast<std::uint64_t>(sg)), {}, &attempts);
    total_attempts += attempts;
    EXPECT_EQ(c.space_group, sg);
    EXPECT_EQ(detect_space_group(c, 1e-5), sg) << "SG " << sg << " exact";
    EXPECT_EQ(detect_space_group(c, 0.1), sg) << "SG " << sg << " symprec 0.1";
    EXPECT_EQ(c.hall_number, space_group_info(sg).hall_number);
    EXPECT_LE(c.atoms.size(), std::max<std::size_t>(96, symmetry_operations(c.hall_number).size() * 3 / 2));
    if (attempts > 50) std::printf("SG %d: %d attempts\n", sg, attempts);
    EXPECT_GE(c.atoms.size(), 3u);
    // Lattice consistent with the crystal system.
    const auto& p = c.params;
    const int system = crystal_system_index(sg);
    if (system >= 1) {
      EXPECT_DOUBLE_EQ(p.alpha, 90.0);
    }
    if (system >= 2) {
      EXPECT_DOUBLE_EQ(p.beta, 90.0);
    }
    if (system >= 3) {
      EXPECT_DOUBLE_EQ(p.a, p.b);
    }
    if (system == 4 || system == 5) {
      EXPECT_DOUBLE_EQ(p.gamma, 120.0);
    }
    if (system == 6) {
      EXPECT_DOUBLE_EQ(p.a, p.c);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("230 groups: %d attempts in %.2f s\n", total_attempts, seconds);
}

TEST(SimSpaceGroups, CrystalsAreDeterministic) {
  const RandomStream stream(99, RngPurpose::simulate, 7);
  const Crystal a = random_crystal(141, stream), b = random_crystal(141, stream);
  ASSERT_EQ(a.atoms.size(), b.atoms.size());
  for (std::size_t i = 0; i < a.atoms.size(); ++i) {
    EXPECT_EQ(a.atoms[i].z, b.atoms[i].z);
    EXPECT_EQ(a.atoms[i].frac, b.atoms[i].frac);
  }
  const Crystal c = random_crystal(141, RandomStream(100, RngPurpose::simulate, 7));
  EXPECT_NE(a.params.a, c.params.a);
}

}  // namespace
}  // namespace cbednet::io::sim
