// The symmetry of dynamical (multislice) zone-axis CBED patterns against the diffraction groups of Buxton, Eades,
// Steeds & Rackham (1976) (cbed-physics.md section 2.1), over a table of crystals and zone axes. Each pattern is
// measured on its discs (io/sim/multislice/pattern_symmetry.hpp): for every point operation of the projected
// lattice (rotations by 360/n and mirrors, found from the crystal's lattice), the residual ||I - I o R|| / ||I||.
// Operations of the whole-pattern (WP) symmetry must hold, every other operation of the lattice must be measurably
// broken: both directions are asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "io/sim/cbed_pattern.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/multislice/multislice.hpp"
#include "io/sim/multislice/pattern_symmetry.hpp"
#include "io/sim/scattering.hpp"
#include "io/sim/structure/cif_structure.hpp"
#include "io/sim/structure/zone_pattern.hpp"
#include "tests/io/sim/cif_fixtures.hpp"

namespace cbednet::io::sim::multislice {
namespace {

Crystal read(const std::string& text, const char* name) { return parse_cif_structure(text, name).crystal; }

Projection zone(const Crystal& c, std::array<int, 3> uvw) { return beam_projection(c, {true, uvw}); }

// Operation names, sorted.
std::vector<std::string> names(const std::vector<PlaneOperation>& ops) {
  std::vector<std::string> out;
  for (const auto& op : ops) out.push_back(op.name);
  std::sort(out.begin(), out.end());
  return out;
}

// --- the helper on its own -----------------------------------------------------------------------------------------

TEST(PatternSymmetry, ProjectedLatticesAndTheirOperations) {
  const Crystal si = read(testing::silicon_cif(), "Si.cif");
  const double a = si.params.a;
  EXPECT_EQ(lattice_translations(si).size(), 4U);  // F centring
  // [001]: the in-plane fcc lattice is square with side a / sqrt2, so the disc lattice is square with |g| = sqrt2 / a.
  const ProjectedLattice l001 = projected_lattice(si, zone(si, {0, 0, 1}));
  EXPECT_NEAR(std::hypot(l001.reciprocal[0][0], l001.reciprocal[0][1]), std::sqrt(2.0) / a, 1e-9);
  EXPECT_EQ(names(lattice_operations(l001)),
            (std::vector<std::string>{"2", "4", "m[010]", "m[1-10]", "m[100]", "m[110]"}));
  // [110]: rectangular, a / sqrt2 x a.
  EXPECT_EQ(names(lattice_operations(projected_lattice(si, zone(si, {1, 1, 0})))),
            (std::vector<std::string>{"2", "m[001]", "m[1-10]"}));
  // [111]: hexagonal, 6mm, with the mirror lines along <1-10> and <11-2>.
  const auto ops111 = names(lattice_operations(projected_lattice(si, zone(si, {1, 1, 1}))));
  EXPECT_EQ(ops111.size(), 9U);
  for (const char* name : {"2", "3", "6", "m[1-10]", "m[01-1]", "m[10-1]", "m[11-2]", "m[1-21]", "m[2-1-1]"})
    EXPECT_NE(std::find(ops111.begin(), ops111.end(), name), ops111.end()) << name;
  // Wurtzite along a: rectangular a sqrt3 x c.
  const Crystal zno = read(testing::wurtzite_cif(), "ZnO.cif");
  EXPECT_EQ(lattice_translations(zno).size(), 1U);
  EXPECT_EQ(names(lattice_operations(projected_lattice(zno, zone(zno, {1, 0, 0})))),
            (std::vector<std::string>{"2", "m[001]", "m[120]"}));
  // Commensurate cells: Si [110] 3 x 2 cells of a / sqrt2 x a.
  const GridGeometry g = commensurate_grid(si, zone(si, {1, 1, 0}), {3, 2}, 0.25);
  EXPECT_NEAR(g.lx, 3 * a / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(g.ly, 2 * a, 1e-9);
  EXPECT_EQ(g.nx % 2, 0);
  EXPECT_LE(g.lx / g.nx, 0.25);
  EXPECT_EQ(g.nx % (3 * 4), 0);  // each period cut into a multiple of 4 pixels
  // Monoclinic ZrO2 along b: a and c at 99.23 degrees, no lattice vector normal to a in the ac plane, so no
  // rectangular periodic cell; a triclinic cell along a: no lattice plane normal to the beam at all.
  const Crystal zro2 = read(testing::baddeleyite_cif(), "ZrO2.cif");
  EXPECT_EQ(lattice_operations(projected_lattice(zro2, zone(zro2, {0, 1, 0}))).size(), 1U);  // the 2-fold only
  EXPECT_THROW((void)commensurate_grid(zro2, zone(zro2, {0, 1, 0}), {4, 4}, 0.25), InvalidArgument);
  const Crystal triclinic = read(testing::triclinic_cif(), "P-1.cif");
  EXPECT_THROW((void)projected_lattice(triclinic, zone(triclinic, {1, 0, 0})), InvalidArgument);
}

// A synthetic pattern on the Si [111] orthohexagonal grid, a function of |q| and of cos(3 phi): 3m with mirror
// lines along phi = 0 (x). Held operations give 0 exactly (no interpolation); the others do not; one disc changed
// breaks every operation that moves it.
TEST(PatternSymmetry, SyntheticPatternResidualsAreExact) {
  const Crystal si = read(testing::silicon_cif(), "Si.cif");
  const Projection p = zone(si, {1, 1, 1});
  const ProjectedLattice lattice = projected_lattice(si, p);
  const GridGeometry grid = commensurate_grid(si, p, {4, 4}, 0.3);
  const DiscSymmetry discs(grid, lattice, 0.1, lattice_operations(lattice));
  EXPECT_GT(discs.discs(), 20U);
  EXPECT_GT(discs.offsets(), 5U);
  std::vector<float> pattern(static_cast<std::size_t>(grid.nx) * grid.ny);
  for (int r = 0; r < grid.ny; ++r)
    for (int c = 0; c < grid.nx; ++c) {
      const double kx = (c - grid.nx / 2) / grid.lx, ky = (r - grid.ny / 2) / grid.ly;
      const double phi = std::atan2(ky, kx), k = std::hypot(kx, ky);
      pattern[static_cast<std::size_t>(r) * grid.nx + c] = static_cast<float>(std::exp(-k) * (2 + std::cos(3 * phi)));
    }
  for (const auto& op : discs.operations()) {
    const SymmetryResidual res = discs.residual(pattern.data(), op.name);
    // 3m with mirror lines along x (ex is [2-1-1]) and its 120-degree images.
    const bool held = op.name == "3" || op.name == "m[2-1-1]" || op.name == "m[11-2]" || op.name == "m[1-21]";
    std::printf("synthetic %s: disc %.2e pixel %.2e\n", op.name.c_str(), res.disc, res.pixel);
    if (held) {
      EXPECT_LT(res.pixel, 1e-6) << op.name;
    } else {
      EXPECT_GT(res.disc, 1e-2) << op.name;
    }
  }
  EXPECT_THROW((void)discs.residual(pattern.data(), "5"), InvalidArgument);
  // Overlapping discs and a grid that is not commensurate are refused.
  EXPECT_THROW(DiscSymmetry(grid, lattice, 0.2, {}), InvalidArgument);
  GridGeometry off = grid;
  off.lx *= 1.01;
  EXPECT_THROW(DiscSymmetry(off, lattice, 0.1, {}), InvalidArgument);
}

// --- multislice patterns against the diffraction groups -------------------------------------------------------------

// Wurtzite ZnO as testing::wurtzite_cif() but with the special positions 1/3, 2/3 to 8 digits: at 4 digits
// (0.3333, 0.6667) the 3-fold axis and four of the six mirrors are broken by 3e-4 A, which the pattern shows
// (residual 1.4e-3).
std::string wurtzite_cif() {
  return "data_ZnO\n" + testing::cif_cell(3.2495, 3.2495, 5.2069, 90, 90, 120) +
         "_symmetry_space_group_name_H-M 'P 63 m c'\n" + testing::atom_loop_header +
         "Zn1 Zn 0.33333333 0.66666667 0\nO1 O 0.33333333 0.66666667 0.3819\n";
}

struct ZoneCase {
  const char* name;
  std::string (*cif)();
  std::array<int, 3> uvw;
  const char* diffraction_group;  // Buxton et al. 1976 / ITC B Table 2.5.3.3
  const char* whole_pattern;      // its WP symmetry
  std::vector<std::string> held;  // the lattice operations in WP; every other one must break
  double energy_keV;
  int periods;                 // thickness = periods x the lattice repeat along the beam
  std::array<int, 2> repeats;  // cell: repeats of the shortest lattice vectors along ex, ey
  double max_pixel;            // Angstrom
  double disc_fraction;        // disc radius / half the shortest g_t
  int slices = 0;              // slices per repeat (0: beam_projection's, at most 2 A each)
};

// The table. Diffraction groups from the crystal's point group and the beam by the rules of cbed-physics.md
// section 2.1 (Buxton, Eades, Steeds & Rackham 1976, Phil. Trans. R. Soc. A 281, 171, Table 2; ITC B Table 2.5.3.3):
// rotations about the beam and vertical mirrors appear in the whole pattern (WP) as themselves; a horizontal mirror
// m' as 1_R, a horizontal 2-fold axis 2' as m_R, inversion as 2_R and 4-bar along the beam as 4_R, none of which is
// a WP symmetry. Screw axes and glide planes act as their rotations and mirrors.
//   Si (m-3m) [001]: 4 (4_1), m{100} (d), m{110}; m' (d), 2' x 4, i, 4-bar       -> 4mm1_R, WP 4mm
//   Si [110]: 2, m(1-10), m(001) (d); m'(110), 2'[1-10], 2'[001], i               -> 2mm1_R, WP 2mm
//   Si [111]: 3, 3 x m{1-10} (lines along <11-2>); i (3-bar -> 6_R), 3 x 2'<1-10> -> 6_Rmm_R, WP 3m
//   GaAs (-43m) [001]: 2, m(110), m(1-10); 4-bar, 2'[100], 2'[010]                -> 4_Rmm_R, WP 2mm
//   GaAs [110]: m(1-10) (line along [001]); m'(110), 2'[001]                       -> m1_R, WP m
//   NaCl (m-3m) [001]: true 4 and mirrors                                         -> 4mm1_R, WP 4mm
//   ZnO (6mm, P6_3mc) [0001]: 6 (6_3), 3 mirrors, 3 c-glides; no z-reversing element -> 6mm, WP 6mm
//   ZnO [2-1-10] (3-index [100]): c-glide with line along c; m' (mirror normal to a), 2' (2_1 along c) -> m1_R, WP m
// Mirror names give the direction of the mirror's line on the detector: m[11-2] is the trace of the plane (1-10).
std::vector<ZoneCase> zone_cases() {
  using testing::gallium_arsenide_cif, testing::rock_salt_cif, testing::silicon_cif;
  const std::vector<std::string> square{"2", "4", "m[100]", "m[010]", "m[110]", "m[1-10]"};
  // clang-format off
  return {
      // name, CIF, zone, group, WP, WP operations; keV, periods, cell repeats, pixel (A), disc fraction, slices
      {"Si [001]", silicon_cif, {0, 0, 1}, "4mm1_R", "4mm", square, 200, 20, {5, 5}, 0.25, 0.8, 4},
      {"Si [110]", silicon_cif, {1, 1, 0}, "2mm1_R", "2mm", {"2", "m[1-10]", "m[001]"}, 200, 20, {10, 7}, 0.25, 0.8},
      // 100 keV and 0.12 A pixels: the first-order Laue zone ring (2.4 1/A) lies in the field.
      {"Si [111]", silicon_cif, {1, 1, 1}, "6_Rmm_R", "3m", {"3", "m[11-2]", "m[1-21]", "m[2-1-1]"},
       100, 20, {6, 6}, 0.12, 0.8},
      // 100 keV, 0.1 A pixels: the FOLZ ring (3.1 1/A) in the field.
      {"GaAs [001]", gallium_arsenide_cif, {0, 0, 1}, "4_Rmm_R", "2mm", {"2", "m[110]", "m[1-10]"},
       100, 40, {5, 5}, 0.1, 0.8, 4},
      {"GaAs [110]", gallium_arsenide_cif, {1, 1, 0}, "m1_R", "m", {"m[001]"}, 200, 20, {10, 7}, 0.25, 0.8},
      {"NaCl [001]", rock_salt_cif, {0, 0, 1}, "4mm1_R", "4mm", square, 200, 20, {5, 5}, 0.25, 0.8, 4},
      // Slices of c/4, so that the 6_3 screw and the c-glides (c/2 along the beam) move the slab by whole slices.
      {"ZnO [0001]", wurtzite_cif, {0, 0, 1}, "6mm", "6mm",
       {"2", "3", "6", "m[100]", "m[010]", "m[110]", "m[120]", "m[210]", "m[1-10]"}, 200, 20, {8, 8}, 0.25, 0.8, 4},
      {"ZnO [2-1-10]", wurtzite_cif, {1, 0, 0}, "m1_R", "m", {"m[001]"}, 200, 30, {7, 7}, 0.25, 0.8},
  };
  // clang-format on
}

struct CaseResult {
  std::vector<std::string> ops;
  std::vector<SymmetryResidual> residuals;  // pattern averaged over the terminations
  std::vector<SymmetryResidual> one_termination;
  std::vector<SymmetryResidual> inner;  // averaged pattern, discs inside half the band only (no HOLZ here)
  std::size_t discs = 0, offsets = 0;
  double seconds = 0;
};

// One case's geometry: the commensurate cell, the disc radius (a fraction of half the shortest g_t, so discs do
// not overlap), slices of the repeat along the beam, one probe, static lattice.
struct CaseSetup {
  Crystal crystal;
  Projection projection;
  ProjectedLattice lattice;
  GridGeometry grid;
  double radius = 0;  // 1/A
  double semi_angle = 0;
  int slices = 0;  // per repeat along the beam
  MultisliceSettings settings;
};

CaseSetup case_setup(const ZoneCase& c) {
  CaseSetup u;
  u.crystal = read(c.cif(), c.name);
  u.projection = zone(u.crystal, c.uvw);
  u.lattice = projected_lattice(u.crystal, u.projection);
  u.grid = commensurate_grid(u.crystal, u.projection, c.repeats, c.max_pixel);
  u.radius = c.disc_fraction * shortest_g(u.lattice) / 2;
  u.semi_angle = u.radius * electron_wavelength(c.energy_keV * 1e3);
  const double period = norm(mat_vec(
      u.crystal.basis, {static_cast<double>(c.uvw[0]), static_cast<double>(c.uvw[1]), static_cast<double>(c.uvw[2])}));
  u.slices = c.slices > 0 ? c.slices : static_cast<int>(std::lround(period / u.projection.d));
  MultisliceSettings& s = u.settings;
  s.grid = u.grid.nx;
  s.thickness = c.periods * period;
  s.slice_thickness = period / u.slices;
  s.probe_grid = 1;
  s.probe_window = 0;
  s.probe_centre = {0.5, 0.5};  // the crystal's origin (the pattern does not depend on it: discs do not overlap)
  s.phonon_configurations = 0;
  return u;
}

// The pattern of the slab cut at termination k: the crystal moved along the beam by k slices.
std::vector<float> render(const CaseSetup& u, const ZoneCase& c, int termination) {
  Crystal shifted = u.crystal;
  for (auto& atom : shifted.atoms)
    for (int i = 0; i < 3; ++i) {
      const double f = atom.frac[i] + static_cast<double>(termination) / u.slices * c.uvw[i];
      atom.frac[i] = f - std::floor(f);
    }
  const RandomStream stream(1, RngPurpose::test, 0);
  auto engine = make_cpu_engine(1);
  std::vector<float> out(static_cast<std::size_t>(u.grid.nx) * static_cast<std::size_t>(u.grid.ny));
  render_multislice(shifted, u.projection, u.grid, u.settings, {c.energy_keV}, u.semi_angle, PhononSource{&stream, 0},
                    *engine, {out.data()});
  return out;
}

CaseResult simulate_case(const ZoneCase& c) {
  const auto t0 = std::chrono::steady_clock::now();
  const CaseSetup u = case_setup(c);
  const auto& [crystal, p, lattice, grid, radius, semi_angle, slices, s] = u;
  // One pattern per termination, averaged: a screw axis or glide plane translating along the beam by a multiple of
  // the slice maps the slab cut at termination k onto the slab cut at k + 1, so the average has its symmetry.
  const std::size_t n = static_cast<std::size_t>(grid.nx) * static_cast<std::size_t>(grid.ny);
  std::vector<float> first, sum(n, 0.0f);
  for (int k = 0; k < slices; ++k) {
    const std::vector<float> one = render(u, c, k);
    if (k == 0) first = one;
    for (std::size_t q = 0; q < n; ++q) sum[q] += one[q] / static_cast<float>(slices);
  }
  const DiscSymmetry discs(grid, lattice, radius, lattice_operations(lattice));
  const DiscSymmetry inner(grid, lattice, radius, lattice_operations(lattice), grid.k_max() / 2);
  CaseResult out;
  out.discs = discs.discs();
  out.offsets = discs.offsets();
  for (const auto& op : discs.operations()) {
    out.ops.push_back(op.name);
    out.residuals.push_back(discs.residual(sum.data(), op.name));
    out.one_termination.push_back(discs.residual(first.data(), op.name));
    out.inner.push_back(inner.residual(sum.data(), op.name));
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "%s (%s, WP %s): %g keV, %d x %d grid over %.1f x %.1f A (band %.2f 1/A), %.0f A in %d-slice periods, "
      "%zu discs (%zu inside %.2f 1/A) of %zu pixels, radius %.3f 1/A, %.1f s\n",
      c.name, c.diffraction_group, c.whole_pattern, c.energy_keV, grid.nx, grid.ny, grid.lx, grid.ly, grid.k_max(),
      s.thickness, slices, out.discs, inner.discs(), grid.k_max() / 2, out.offsets, radius, out.seconds);
  return out;
}

// With discs apart, each pixel holds one incident direction's |T_g(K)|^2 and the probe position only changes phases:
// GaAs [110] (Friedel broken, no 2-fold anywhere near) gives the same pattern to float rounding for a probe on the
// crystal's origin and one at an arbitrary point; with overlapping discs the pattern changes.
TEST(PatternSymmetry, PatternWithDiscsApartDoesNotDependOnTheProbePosition) {
  ZoneCase c = zone_cases()[4];
  ASSERT_EQ(std::string(c.name), "GaAs [110]");
  c.periods = 10;
  const auto difference = [&](const ZoneCase& zc) {
    CaseSetup u = case_setup(zc);
    const std::vector<float> origin = render(u, zc, 0);
    u.settings.probe_centre = {0.3719, 0.6143};
    const std::vector<float> elsewhere = render(u, zc, 0);
    double d = 0, n = 0;
    for (std::size_t q = 0; q < origin.size(); ++q) {
      d += std::pow(static_cast<double>(origin[q]) - elsewhere[q], 2);
      n += std::pow(static_cast<double>(origin[q]), 2);
    }
    return std::sqrt(d / n);
  };
  const double apart = difference(c);
  c.disc_fraction = 1.6;  // discs overlapping: coherent interference between neighbouring incident directions
  const double overlapping = difference(c);
  std::printf("GaAs [110] probe moved: relative change %.2e with discs apart, %.2e with discs overlapping\n", apart,
              overlapping);
  EXPECT_LT(apart, 1e-5);
  EXPECT_GT(overlapping, 1e-3);
}

// Held operations measure 1e-6 (float rounding) to 5e-5 (ZnO [0001]'s operations that do not map the rectangular
// real-space grid onto itself); broken ones 4e-2 and more.
constexpr double held_tolerance = 2e-4;
constexpr double broken_floor = 1e-2;

TEST(PatternSymmetry, ZoneAxisPatternsHaveTheirDiffractionGroupSymmetry) {
  for (const ZoneCase& c : zone_cases()) {
    const CaseResult r = simulate_case(c);
    for (std::size_t k = 0; k < r.ops.size(); ++k) {
      const bool held = std::find(c.held.begin(), c.held.end(), r.ops[k]) != c.held.end();
      std::printf("  %-9s %-6s disc %.2e pixel %.2e; one termination: disc %.2e; inner half: disc %.2e\n",
                  r.ops[k].c_str(), held ? "held" : "broken", r.residuals[k].disc, r.residuals[k].pixel,
                  r.one_termination[k].disc, r.inner[k].disc);
      if (held) {
        EXPECT_LT(r.residuals[k].disc, held_tolerance) << c.name << " " << r.ops[k];
      } else {
        EXPECT_GT(r.residuals[k].disc, broken_floor) << c.name << " " << r.ops[k];
      }
    }
    for (const auto& name : c.held)
      EXPECT_NE(std::find(r.ops.begin(), r.ops.end(), name), r.ops.end()) << c.name << ": no operation " << name;
  }
}

}  // namespace
}  // namespace cbednet::io::sim::multislice
