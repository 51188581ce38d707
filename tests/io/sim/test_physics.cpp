// Electron optics, Kirkland scattering factors, d-spacings, structure factors and systematic absences against
// the reference values of cbed-physics.md section 6 (computed independently from CODATA 2018 and libsymspg).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "io/sim/crystal.hpp"
#include "io/sim/kirkland.hpp"
#include "io/sim/random_crystal.hpp"
#include "io/sim/scattering.hpp"
#include "sim_test_crystals.hpp"

namespace cbednet::io::sim {
namespace {

using testing::aluminium;
using testing::silicon;

TEST(SimPhysics, RelativisticWavelengths) {
  EXPECT_NEAR(electron_wavelength(100e3), 0.037014, 0.037014 * 1e-4);
  EXPECT_NEAR(electron_wavelength(200e3), 0.025079, 0.025079 * 1e-4);
  EXPECT_NEAR(electron_wavelength(300e3), 0.019687, 0.019687 * 1e-4);
  EXPECT_NEAR(relativistic_gamma(200e3), 1.391390, 1e-6);
  EXPECT_NEAR(interaction_constant(100e3), 9.2440e-4, 9.2440e-4 * 1e-4);
  EXPECT_NEAR(interaction_constant(200e3), 7.2884e-4, 7.2884e-4 * 1e-4);
  EXPECT_NEAR(interaction_constant(300e3), 6.5262e-4, 6.5262e-4 * 1e-4);
}

TEST(SimPhysics, KirklandTableIsEmbedded) {
  EXPECT_STREQ(element_symbol(14), "Si");
  EXPECT_EQ(atomic_number("Lr"), 103);
  EXPECT_DOUBLE_EQ(kirkland_entry(14).p[0], 1.06543892);  // a1 of Si (cbed-physics.md section 1.4)
  EXPECT_THROW(kirkland_entry(0), InvalidArgument);
  EXPECT_THROW(atomic_number("Xx"), InvalidArgument);
  // f_e(q) of Si and Al (cbed-physics.md section 1.4 table).
  EXPECT_NEAR(electron_scattering_factor(14, 0.0), 5.8143, 2e-4);
  EXPECT_NEAR(electron_scattering_factor(14, 0.3189), 3.2621, 2e-4);
  EXPECT_NEAR(electron_scattering_factor(14, 2.0), 0.2702, 2e-4);
  EXPECT_NEAR(electron_scattering_factor(13, 0.5), 1.7354, 2e-4);
  EXPECT_NEAR(electron_scattering_factor(13, 1.0), 0.7006, 2e-4);
}

double d_spacing(const Crystal& c, int h, int k, int l) {
  return 1.0 / norm(reciprocal_vector(reciprocal_basis(c.basis), h, k, l));
}

TEST(SimPhysics, DSpacings) {
  const Crystal si = silicon();
  EXPECT_NEAR(d_spacing(si, 1, 1, 1), 3.1356, 1e-4);
  EXPECT_NEAR(d_spacing(si, 2, 2, 0), 1.9201, 1e-4);
  EXPECT_NEAR(d_spacing(si, 3, 1, 1), 1.6375, 1e-4);
  EXPECT_NEAR(d_spacing(si, 4, 0, 0), 1.3578, 1e-4);
  EXPECT_NEAR(d_spacing(aluminium(), 1, 1, 1), 2.3380, 1e-4);
  EXPECT_NEAR(d_spacing(aluminium(), 2, 0, 0), 2.0248, 1e-4);
  // A triclinic cell: d from the reciprocal basis equals d from the inverse metric tensor.
  const Mat3 basis = lattice_basis({4.1, 5.3, 6.2, 81, 97, 104});
  Mat3 g{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int r = 0; r < 3; ++r) g[i][j] += basis[r][i] * basis[r][j];
  const Mat3 recip = reciprocal_basis(basis);
  // (h G^-1 h) computed as |B* h|^2; check against a^* . a = 1 duality instead of inverting G by hand.
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double d = 0;
      for (int r = 0; r < 3; ++r) d += recip[r][i] * basis[r][j];
      EXPECT_NEAR(d, i == j ? 1.0 : 0.0, 1e-12);
    }
  EXPECT_NEAR(g[0][0], 4.1 * 4.1, 1e-9);
  EXPECT_NEAR(g[0][1], 4.1 * 5.3 * std::cos(104 * std::numbers::pi / 180), 1e-9);
}

TEST(SimPhysics, SiliconStructureFactors) {
  const Crystal si = silicon();
  ASSERT_EQ(si.atoms.size(), 8u);
  EXPECT_EQ(detect_space_group(si, 1e-3), 227);
  EXPECT_NEAR(std::abs(structure_factor(si, {1, 1, 1})), 18.452, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(si, {2, 2, 0})), 14.897, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(si, {3, 1, 1})), 8.461, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(si, {4, 0, 0})), 9.168, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(si, {3, 3, 1})), 5.732, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(si, {4, 2, 2})), 6.863, 2e-3);
  // Space-group absences (d glide 200, F centring 100 and 110) and the special-position zero 222.
  for (const Hkl hkl : {Hkl{2, 0, 0}, Hkl{1, 0, 0}, Hkl{1, 1, 0}, Hkl{2, 2, 2}, Hkl{0, 4, 2}})
    EXPECT_LT(std::abs(structure_factor(si, hkl)), 1e-9) << hkl[0] << hkl[1] << hkl[2];
  // Debye-Waller damping with B = 0.4632 A^2.
  const Crystal warm = silicon(0.4632);
  EXPECT_NEAR(std::abs(structure_factor(warm, {1, 1, 1})), 18.236, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(warm, {4, 0, 0})), 8.610, 2e-3);
}

TEST(SimPhysics, AluminiumStructureFactors) {
  const Crystal al = aluminium();
  ASSERT_EQ(al.atoms.size(), 4u);
  EXPECT_NEAR(std::abs(structure_factor(al, {1, 1, 1})), 8.487, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(al, {2, 0, 0})), 7.055, 2e-3);
  EXPECT_NEAR(std::abs(structure_factor(al, {2, 2, 0})), 4.449, 2e-3);
  EXPECT_LT(std::abs(structure_factor(al, {1, 0, 0})), 1e-9);
  EXPECT_LT(std::abs(structure_factor(al, {1, 1, 0})), 1e-9);
}

TEST(SimPhysics, BatchStructureFactorsMatchDirectSum) {
  const Crystal c = random_crystal(62, RandomStream(3, RngPurpose::test, 62));
  std::vector<Hkl> hkls;
  for (int h = -3; h <= 3; ++h)
    for (int k = -2; k <= 2; ++k)
      for (int l = -4; l <= 4; ++l) hkls.push_back({h, k, l});
  const auto batch = structure_factors(c, hkls);
  for (std::size_t i = 0; i < hkls.size(); ++i) {
    const auto direct = structure_factor(c, hkls[i]);
    EXPECT_NEAR(batch[i].real(), direct.real(), 1e-9);
    EXPECT_NEAR(batch[i].imag(), direct.imag(), 1e-9);
  }
}

double max_abs_f(const Crystal& c, int range) {
  double m = 0;
  for (int h = -range; h <= range; ++h)
    for (int k = -range; k <= range; ++k)
      for (int l = -range; l <= range; ++l) m = std::max(m, std::abs(structure_factor(c, {h, k, l})));
  return m;
}

// Random coordinates: only the space group's own conditions can make these reflections vanish.
TEST(SimPhysics, SystematicAbsencesForRandomCoordinates) {
  for (const int sg : {225, 227, 196, 43, 69}) {  // F-centred cubic and orthorhombic groups
    const Crystal c = random_crystal(sg, RandomStream(11, RngPurpose::test, static_cast<std::uint64_t>(sg)));
    const double scale = max_abs_f(c, 3);
    ASSERT_GT(scale, 1.0);
    for (const Hkl hkl : {Hkl{1, 0, 0}, Hkl{1, 1, 0}, Hkl{2, 1, 0}, Hkl{0, 1, 2}, Hkl{3, 2, 1}})
      EXPECT_LT(std::abs(structure_factor(c, hkl)), 1e-9 * scale)
          << "SG " << sg << " hkl " << hkl[0] << hkl[1] << hkl[2];
    EXPECT_GT(std::abs(structure_factor(c, {1, 1, 1})) + std::abs(structure_factor(c, {2, 0, 0})) +
                  std::abs(structure_factor(c, {3, 1, 1})),
              1e-6 * scale);
  }
  {  // Fd-3m: 200 (h00: h = 4n) and 002 absent, 400 allowed.
    const Crystal c = random_crystal(227, RandomStream(12, RngPurpose::test, 227));
    const double scale = max_abs_f(c, 4);
    EXPECT_LT(std::abs(structure_factor(c, {2, 0, 0})), 1e-9 * scale);
    EXPECT_LT(std::abs(structure_factor(c, {0, 0, 2})), 1e-9 * scale);
    EXPECT_LT(std::abs(structure_factor(c, {0, 4, 2})), 1e-9 * scale);
  }
  {  // P2_1/c (unique axis b): 0k0 with k odd and h0l with l odd.
    const Crystal c = random_crystal(14, RandomStream(13, RngPurpose::test, 14));
    const double scale = max_abs_f(c, 3);
    EXPECT_LT(std::abs(structure_factor(c, {0, 1, 0})), 1e-9 * scale);
    EXPECT_LT(std::abs(structure_factor(c, {0, 3, 0})), 1e-9 * scale);
    EXPECT_LT(std::abs(structure_factor(c, {1, 0, 1})), 1e-9 * scale);
    EXPECT_LT(std::abs(structure_factor(c, {2, 0, 3})), 1e-9 * scale);
    EXPECT_GT(std::abs(structure_factor(c, {0, 2, 0})) + std::abs(structure_factor(c, {1, 0, 2})), 1e-6 * scale);
  }
}

}  // namespace
}  // namespace cbednet::io::sim
