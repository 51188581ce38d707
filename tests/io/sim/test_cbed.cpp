// Kinematic CBED patterns: disc geometry, Friedel symmetry of the zero-order zone, the symmetry of Si zone-axis
// patterns (kinematic, i.e. the bright-field-level symmetry of their diffraction groups), non-negativity and
// projections chosen from the strongest reflections.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>

#include "core/rng.hpp"
#include "io/sim/cbed_pattern.hpp"
#include "io/sim/projections.hpp"
#include "io/sim/random_crystal.hpp"
#include "sim_test_crystals.hpp"

namespace cbednet::io::sim {
namespace {

using testing::silicon;

Projection along(const Crystal& c, const Vec3& uvw, double d) {  // real-space zone axis [uvw], discs for d
  Projection p = projection_frame(mat_vec(c.basis, uvw));
  p.d = d;
  return p;
}

TEST(SimCbed, SemiAngleAndDiscRadius) {
  // alpha = theta_B / 2 with the 100 kV wavelength: the notebook's d = 3.343 A gives 2.768 mrad.
  EXPECT_NEAR(semi_angle_for(3.34336566), 0.00276776, 2e-7);
  const double alpha = semi_angle_for(2.0);
  CbedSettings s;
  s.size = 512;
  EXPECT_NEAR(s.pixel_size(), 0.01, 1e-15);
  const double r100 = disc_radius_pixels(alpha, electron_wavelength(100e3), s.pixel_size());
  EXPECT_NEAR(r100, 12.5, 1e-9);  // 1 / (4 d) / dk
  // Only the bright-field disc: count its pixels and find its edge along a row.
  ProjectionReflections empty;
  empty.cell_volume = 100;
  for (const double kev : {100.0, 190.0}) {
    const double r = disc_radius_pixels(alpha, electron_wavelength(kev * 1e3), s.pixel_size());
    std::vector<float> img(512 * 512);
    render_cbed(empty, kev, alpha, s, img.data());
    int count = 0;
    for (const float v : img) count += v > 0 ? 1 : 0;
    EXPECT_NEAR(count, std::numbers::pi * r * r, 2 * std::numbers::pi * r) << kev << " keV";
    const int edge = static_cast<int>(std::floor(r));
    EXPECT_GT(img[256 * 512 + 256 + edge], 0.0f);
    EXPECT_EQ(img[256 * 512 + 256 + edge + 1], 0.0f);
    // I0 scaling: the incident beam carries S^2 in total.
    double total = 0;
    for (const float v : img) total += v;
    EXPECT_NEAR(total, 512.0 * 512.0, 0.03 * 512 * 512);
  }
  // Other sizes cover the same field: dk scales with 512 / S.
  s.size = 128;
  EXPECT_NEAR(disc_radius_pixels(alpha, electron_wavelength(100e3), s.pixel_size()), 12.5 / 4, 1e-9);
}

TEST(SimCbed, ZeroOrderZoneObeysFriedel) {
  // A non-centrosymmetric triclinic crystal: only Friedel's law can make its ZOLZ pattern centrosymmetric.
  const Crystal c = random_crystal(1, RandomStream(5, RngPurpose::test, 1));
  CbedSettings s;
  s.size = 128;
  s.zolz_only = true;
  const auto prepared = prepare_projection(c, along(c, {0, 0, 1}, 2.5), s);
  ASSERT_GT(prepared.reflections.size(), 10u);
  std::vector<float> img(128 * 128);
  render_cbed(prepared, 120, semi_angle_for(2.5), s, img.data());
  int lit = 0, mismatched = 0;
  for (int i = 1; i < 128; ++i)
    for (int j = 1; j < 128; ++j) {
      const float a = img[static_cast<std::size_t>(i * 128 + j)];
      const float b = img[static_cast<std::size_t>((128 - i) * 128 + (128 - j))];
      lit += a > 0 ? 1 : 0;
      if (std::abs(a - b) > 1e-3f * std::max(std::abs(a), std::abs(b)) + 1e-12f) ++mismatched;
    }
  EXPECT_GT(lit, 1000);
  EXPECT_LE(mismatched, 128) << "pixels breaking I(q) = I(-q)";  // only disc-edge rounding may differ
  // Point evaluation is exact: I(q) = I(-q).
  for (int t = 0; t < 200; ++t) {
    const RandomStream r(1, RngPurpose::test, 77);
    const double qx = 2.4 * (2 * r.uniform(t, 0) - 1), qy = 2.4 * (2 * r.uniform(t, 1) - 1);
    const double a = cbed_intensity_at(prepared, 120, semi_angle_for(2.5), s, qx, qy);
    const double b = cbed_intensity_at(prepared, 120, semi_angle_for(2.5), s, -qx, -qy);
    EXPECT_NEAR(a, b, 1e-9 * (a + b) + 1e-12);
  }
}

// Largest relative difference |I(q) - I(Rq)| over sample points q, R a rotation by `degrees` or (mirror) the
// reflection y -> -y after it.
double asymmetry(const ProjectionReflections& p, double kev, double alpha, const CbedSettings& s, double degrees,
                 bool mirror, double q_max) {
  const double c = std::cos(degrees * std::numbers::pi / 180), sn = std::sin(degrees * std::numbers::pi / 180);
  const RandomStream r(2, RngPurpose::test, 5);
  double worst = 0;
  for (int t = 0; t < 1500; ++t) {
    // Points near the Bragg conditions matter most: sample the whole field.
    const double qx = q_max * (2 * r.uniform(t, 0) - 1), qy = q_max * (2 * r.uniform(t, 1) - 1);
    double x = c * qx - sn * qy, y = sn * qx + c * qy;
    if (mirror) y = -y;
    const double a = cbed_intensity_at(p, kev, alpha, s, qx, qy);
    const double b = cbed_intensity_at(p, kev, alpha, s, x, y);
    if (a + b > 1e-9) worst = std::max(worst, std::abs(a - b) / (a + b));
  }
  return worst;
}

TEST(SimCbed, SiliconZoneAxisSymmetries) {
  const Crystal si = silicon(0.46);
  CbedSettings s;
  const double alpha = semi_angle_for(3.1356);  // discs of Si 111
  const double kev = 100;
  const double q = 2.5;
  // [001]: diffraction group 4mm1_R, kinematic (BP-level) symmetry 4mm.
  const auto p001 = prepare_projection(si, along(si, {0, 0, 1}, 3.1356), s);
  for (const double deg : {90.0, 180.0, 270.0}) EXPECT_LT(asymmetry(p001, kev, alpha, s, deg, false, q), 1e-9);
  for (const double deg : {0.0, 90.0, 180.0, 270.0}) EXPECT_LT(asymmetry(p001, kev, alpha, s, deg, true, q), 1e-9);
  EXPECT_GT(asymmetry(p001, kev, alpha, s, 45.0, true, q), 1e-2);  // no mirror at 22.5 degrees
  EXPECT_GT(asymmetry(p001, kev, alpha, s, 60.0, false, q), 1e-2);
  // [110]: 2mm1_R, kinematic 2mm (mirrors along the detector axes), no 4-fold.
  const auto p110 = prepare_projection(si, along(si, {1, 1, 0}, 3.1356), s);
  EXPECT_LT(asymmetry(p110, kev, alpha, s, 180.0, false, q), 1e-9);
  EXPECT_LT(asymmetry(p110, kev, alpha, s, 0.0, true, q), 1e-9);
  EXPECT_LT(asymmetry(p110, kev, alpha, s, 180.0, true, q), 1e-9);
  EXPECT_GT(asymmetry(p110, kev, alpha, s, 90.0, false, q), 1e-2);
  // [111]: 6_Rmm_R, whole pattern 3m (the FOLZ ring lies inside the field at 100 kV), ZOLZ alone 6mm.
  const auto p111 = prepare_projection(si, along(si, {1, 1, 1}, 3.1356), s);
  EXPECT_LT(asymmetry(p111, kev, alpha, s, 120.0, false, q), 1e-9);
  EXPECT_LT(asymmetry(p111, kev, alpha, s, 0.0, true, q), 1e-9);
  EXPECT_GT(asymmetry(p111, kev, alpha, s, 60.0, false, q), 1e-3);
  CbedSettings zolz = s;
  zolz.zolz_only = true;
  const auto z111 = prepare_projection(si, along(si, {1, 1, 1}, 3.1356), zolz);
  EXPECT_LT(asymmetry(z111, kev, alpha, zolz, 60.0, false, q), 1e-9);
}

TEST(SimCbed, PatternsAreNonNegativeAndLit) {
  CbedSettings s;
  s.size = 64;
  for (const int sg : {2, 62, 166, 225}) {
    const Crystal c = random_crystal(sg, RandomStream(8, RngPurpose::test, static_cast<std::uint64_t>(sg)));
    const auto projections = choose_projections(c, 3);
    ASSERT_EQ(projections.size(), 3u);
    for (const auto& proj : projections) {
      EXPECT_GT(proj.d, 1.0);
      EXPECT_LT(proj.d, 5.0);
      const auto prepared = prepare_projection(c, proj, s);
      std::vector<float> img(64 * 64, -1.0f);
      render_cbed(prepared, 150, semi_angle_for(proj.d), s, img.data());
      int lit = 0;
      for (const float v : img) {
        ASSERT_TRUE(std::isfinite(v));
        ASSERT_GE(v, 0.0f);
        lit += v > 0 ? 1 : 0;
      }
      EXPECT_GT(lit, 20) << "SG " << sg;
    }
  }
}

TEST(SimCbed, ProjectionsAreNormalsOfTheStrongestReflections) {
  // Si: the strongest families are 111 (|F|^2 x 8), 220 (x 12) and 311 (x 24) in some order; never 200 or 222.
  const auto proj = choose_projections(silicon(0.46), 3);
  ASSERT_EQ(proj.size(), 3u);
  for (const auto& p : proj) {
    const int sum2 = p.hkl[0] * p.hkl[0] + p.hkl[1] * p.hkl[1] + p.hkl[2] * p.hkl[2];
    EXPECT_TRUE(sum2 == 3 || sum2 == 8 || sum2 == 11) << p.hkl[0] << p.hkl[1] << p.hkl[2];
    EXPECT_NEAR(p.d, 5.431 / std::sqrt(sum2), 1e-9);
    // The beam is the plane normal g_hkl / |g_hkl|, and the detector axes are orthonormal.
    EXPECT_NEAR(norm(p.beam), 1.0, 1e-12);
    EXPECT_NEAR(dot(p.beam, p.ex), 0.0, 1e-12);
    EXPECT_NEAR(dot(p.beam, p.ey), 0.0, 1e-12);
    EXPECT_NEAR(dot(p.ex, p.ey), 0.0, 1e-12);
  }
  EXPECT_NE(proj[0].d, proj[1].d);
  EXPECT_NE(proj[1].d, proj[2].d);
}

}  // namespace
}  // namespace cbednet::io::sim
