// One material along one direction (io/sim/structure/zone_pattern.hpp), with structures read from CIF: the beam
// frames of --zone and --beam, their default semi-angles, refusals, and the classic polarity demonstration by
// multislice: GaAs [110] shows unequal 002 / 00-2 discs, Si [110] a 180-degree symmetric pattern to single-precision
// noise when the probe sits on a true 2-fold axis along the beam and the cell is commensurate.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "io/sim/cbed_pattern.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/multislice/multislice.hpp"
#include "io/sim/scattering.hpp"
#include "io/sim/structure/cif_structure.hpp"
#include "io/sim/structure/zone_pattern.hpp"
#include "tests/io/sim/cif_fixtures.hpp"

namespace cbednet::io::sim {
namespace {

using namespace testing;

Crystal read(const std::string& text, const char* name) { return parse_cif_structure(text, name).crystal; }

TEST(CifZone, BeamFramesAndSemiAngles) {
  const Crystal si = read(silicon_cif(), "Si.cif");
  const double a = 5.431;
  // [110]: beam along (1,1,0)/sqrt2, slices of the repeat a/sqrt2 cut to at most 2 A (two slices of a/sqrt8).
  const Projection zone = beam_projection(si, {true, {1, 1, 0}});
  EXPECT_NEAR(zone.beam[0], 1 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(zone.beam[2], 0.0, 1e-12);
  EXPECT_NEAR(zone.d, a / std::sqrt(8.0), 1e-9);
  EXPECT_NEAR(dot(zone.ex, zone.beam), 0.0, 1e-12);
  // (111) plane normal: d_111 = a / sqrt3, the SMC rule alpha = lambda(100 kV) / (4 d).
  const Projection plane = beam_projection(si, {false, {1, 1, 1}});
  EXPECT_NEAR(plane.d, a / std::sqrt(3.0), 1e-9);
  EXPECT_NEAR(default_semi_angle(si, {false, {1, 1, 1}}), semi_angle_for(a / std::sqrt(3.0)), 1e-15);
  // [110] zone: 002 is absent in diamond (h + k + l = 4n + 2), so 1-11 is the first ZOLZ reflection.
  EXPECT_NEAR(default_semi_angle(si, {true, {1, 1, 0}}), semi_angle_for(a / std::sqrt(3.0)), 1e-12);
  // [001] zone: 200 is absent in diamond, 220 is the first.
  EXPECT_NEAR(default_semi_angle(si, {true, {0, 0, 1}}), semi_angle_for(a / std::sqrt(8.0)), 1e-12);
  for (const bool zone_axis : {true, false}) {
    try {
      (void)beam_projection(si, {zone_axis, {0, 0, 0}});
      ADD_FAILURE() << "0 0 0 accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(std::string(e.what()),
                zone_axis ? "--zone: 0 0 0 is not a direction" : "--beam: 0 0 0 is not a direction");
    }
  }
}

TEST(CifZone, OnePatternFileLayout) {
  const Crystal gaas = read(gallium_arsenide_cif(), "GaAs.cif");
  SimulationOptions o;
  o.cbed.size = 64;
  ZoneSettings zone;
  zone.direction = {true, {1, 1, 0}};
  const SmcSample s = simulate_zone_pattern(o, gaas, "GaAs", zone);
  ASSERT_EQ(s.cbed_stack.size(), 3u * 64 * 64);
  EXPECT_EQ(s.group_name, "sample_0_0");
  EXPECT_EQ(s.space_group, 216);
  EXPECT_EQ(*s.energy_keV, 200);
  EXPECT_EQ((*s.z_dirs)[0], 1);
  EXPECT_EQ((*s.z_dirs)[8], 0);
  double total = 0;
  for (std::size_t p = 0; p < 64 * 64; ++p) {
    total += s.cbed_stack[p];
    EXPECT_EQ(s.cbed_stack[p], s.cbed_stack[p + 64 * 64]);  // the one pattern in every projection
  }
  EXPECT_GT(total, 0);
  zone.energy_keV = 300;  // outside the kinematic renderer's range
  EXPECT_THROW(simulate_zone_pattern(o, gaas, "GaAs", zone), InvalidArgument);
}

// --- polarity by multislice --------------------------------------------------------------------------------------
//
// [110] frame: ex along [1-10], ey along [00-1]. Fd-3m (origin choice 1) has the pure 2-fold rotation
// (y+3/4, x+1/4, -z+3/4), whose axis runs along [110] through (3/4, 0, 3/8): projected, 3/4 a/sqrt2 along ex and
// -3/8 a along ey from the origin. On a 160 x 128 grid over 10 a/sqrt2 x 8 a (commensurate) that point is the grid
// point 12 columns right and 6 rows up of the centre (every atom projects onto a grid point too: multiples of 4
// pixels), so the sampled cell is invariant under the rotation about
// the probe. A probe at (1/2, 0, 1/4), off every 2-fold axis along [110], breaks the 180-degree symmetry. F-43m (GaAs)
// has no 2-fold along [110]: its 002 and 00-2 discs differ (the polarity of zinc blende).

struct ZonePattern {
  std::vector<float> pixels;
  multislice::GridGeometry grid;
  double at(int row, int col) const { return pixels[static_cast<std::size_t>(row) * grid.nx + col]; }
};

ZonePattern polarity_pattern(const Crystal& crystal, bool on_axis = true) {
  const double a = crystal.params.a;
  const Projection p = beam_projection(crystal, {true, {1, 1, 0}});
  multislice::GridGeometry grid{160, 128, 10 * a / std::sqrt(2.0), 8 * a, 2.0 / 3.0};
  multislice::MultisliceSettings s;
  s.grid = grid.nx;
  s.thickness = 200;
  s.probe_grid = 1;
  s.phonon_configurations = 0;  // static lattice, Debye-Waller damped: no random displacements
  const Vec3 axis = on_axis ? mat_vec(crystal.basis, {0.75, 0, 0.375}) : mat_vec(crystal.basis, {0.5, 0, 0.25});
  s.probe_centre = {(dot(axis, p.ex) + grid.lx / 2) / grid.lx, (dot(axis, p.ey) + grid.ly / 2) / grid.ly};
  EXPECT_NEAR(s.probe_centre[0] * grid.nx, on_axis ? 92.0 : 88.0, 1e-9);  // on a grid point
  EXPECT_NEAR(s.probe_centre[1] * grid.ny, on_axis ? 58.0 : 60.0, 1e-9);
  const RandomStream stream(1, RngPurpose::test, 0);
  auto engine = multislice::make_cpu_engine(2);
  ZonePattern out{std::vector<float>(static_cast<std::size_t>(grid.nx) * grid.ny), grid};
  multislice::render_multislice(crystal, p, grid, s, {200.0}, 0.0025, multislice::PhononSource{&stream, 0}, *engine,
                                {out.pixels.data()});
  return out;
}

// Largest |I(k) - I(-k)| relative to the largest intensity.
double rotation_deviation(const ZonePattern& r) {
  const int nx = r.grid.nx, ny = r.grid.ny;
  double worst = 0, peak = 0;
  for (int i = 1; i < ny; ++i)
    for (int j = 1; j < nx; ++j) {
      worst = std::max(worst, std::abs(r.at(i, j) - r.at(ny - i, nx - j)));
      peak = std::max(peak, r.at(i, j));
    }
  return worst / peak;
}

// Intensity in the disc of radius `radius` (1/A) around the transverse part of g_hkl.
double disc(const ZonePattern& r, const Crystal& c, const Hkl& hkl, double radius) {
  const Projection p = beam_projection(c, {true, {1, 1, 0}});
  const Vec3 g = reciprocal_vector(reciprocal_basis(c.basis), hkl[0], hkl[1], hkl[2]);
  const double gx = dot(g, p.ex), gy = dot(g, p.ey);
  double sum = 0;
  for (int i = 0; i < r.grid.ny; ++i)
    for (int j = 0; j < r.grid.nx; ++j) {
      const double kx = (j - r.grid.nx / 2) / r.grid.lx - gx, ky = (i - r.grid.ny / 2) / r.grid.ly - gy;
      if (kx * kx + ky * ky <= radius * radius) sum += r.at(i, j);
    }
  return sum;
}

TEST(CifZone, PolarityOfGalliumArsenideAgainstSilicon) {
  const double radius = 0.9 * 0.0025 / electron_wavelength(200e3);
  const Crystal si = read(silicon_cif(), "Si.cif"), gaas = read(gallium_arsenide_cif(), "GaAs.cif");
  const ZonePattern si_pattern = polarity_pattern(si), gaas_pattern = polarity_pattern(gaas);
  const double si_rotation = rotation_deviation(si_pattern), gaas_rotation = rotation_deviation(gaas_pattern);
  const double gaas_plus = disc(gaas_pattern, gaas, {0, 0, 2}, radius);
  const double gaas_minus = disc(gaas_pattern, gaas, {0, 0, -2}, radius);
  const double si_plus = disc(si_pattern, si, {0, 0, 2}, radius), si_minus = disc(si_pattern, si, {0, 0, -2}, radius);
  std::printf("Si [110]: 180-degree deviation %.2e, 002 %.4g 00-2 %.4g\n", si_rotation, si_plus, si_minus);
  std::printf("GaAs [110]: 180-degree deviation %.2e, 002 %.4g 00-2 %.4g\n", gaas_rotation, gaas_plus, gaas_minus);
  const double si_off_axis = rotation_deviation(polarity_pattern(si, false));
  std::printf("Si [110], probe off the 2-fold axis: 180-degree deviation %.2e\n", si_off_axis);
  // Single-precision noise of 2 x 104 float FFTs (1.1e-5 of the peak when written), against 5e-2 off the axis.
  EXPECT_LT(si_rotation, 5e-5);
  EXPECT_GT(si_off_axis, 100 * si_rotation);
  EXPECT_GT(gaas_rotation, 1e-2);
  EXPECT_GT(std::abs(gaas_plus - gaas_minus) / (0.5 * (gaas_plus + gaas_minus)), 0.05);
  EXPECT_NEAR(si_plus, si_minus, 1e-4 * (si_plus + si_minus));
}

}  // namespace
}  // namespace cbednet::io::sim
