// Multislice physics on small grids (64^2-128^2): intensity conservation, the vacuum probe, convergence in the slice
// thickness, the weak-phase limit against kinematic |F|^2, Friedel's law kept for a centrosymmetric crystal and
// broken for a non-centrosymmetric one, determinism of frozen phonons, and the sampling rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "io/sim/cbed_pattern.hpp"
#include "io/sim/multislice/multislice.hpp"
#include "io/sim/multislice/settings.hpp"
#include "io/sim/projections.hpp"
#include "io/sim/random_crystal.hpp"
#include "io/sim/scattering.hpp"
#include "sim_test_crystals.hpp"

namespace cbednet::io::sim::multislice {
namespace {

using testing::silicon;

// GaAs, F-43m (Hall 512): Ga 4a (0, 0, 0), As 4c (1/4, 1/4, 1/4), a = 5.653 A. Non-centrosymmetric.
Crystal gallium_arsenide() {
  Crystal c = make_crystal({5.653, 5.653, 5.653, 90, 90, 90}, 512,
                           {Atom{31, {0, 0, 0}, 0.0, 0}, Atom{33, {0.25, 0.25, 0.25}, 0.0, 1}});
  c.space_group = 216;
  return c;
}

Projection along(const Crystal& c, const Vec3& uvw, double d) {
  Projection p = projection_frame(mat_vec(c.basis, uvw));
  p.d = d;
  return p;
}

struct Simulated {
  std::vector<float> pattern;
  GridGeometry grid;
};

Simulated simulate(const Crystal& crystal, const Projection& projection, GridGeometry grid, MultisliceSettings s,
                   double energy_keV, double semi_angle, std::uint64_t seed = 7) {
  s.grid = grid.nx;
  grid.band_limit = s.band_limit;
  const RandomStream stream(seed, RngPurpose::test, 0);
  auto engine = make_cpu_engine(2);
  Simulated r{std::vector<float>(static_cast<std::size_t>(grid.nx) * static_cast<std::size_t>(grid.ny)), grid};
  render_multislice(crystal, projection, grid, s, {energy_keV}, semi_angle, PhononSource{&stream, 0}, *engine,
                    {r.pattern.data()});
  return r;
}

double total(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

// Sum over the disc of radius r (1/A) centred on (gx, gy) (1/A) in the centred pattern.
double disc_sum(const Simulated& r, double gx, double gy, double radius) {
  double sum = 0;
  for (int i = 0; i < r.grid.ny; ++i)
    for (int j = 0; j < r.grid.nx; ++j) {
      const double kx = (j - r.grid.nx / 2) / r.grid.lx - gx, ky = (i - r.grid.ny / 2) / r.grid.ly - gy;
      if (kx * kx + ky * ky <= radius * radius) sum += r.pattern[static_cast<std::size_t>(i) * r.grid.nx + j];
    }
  return sum;
}

MultisliceSettings small_settings(double thickness, double slice) {
  MultisliceSettings s;
  s.thickness = thickness;
  s.slice_thickness = slice;
  s.probe_grid = 2;
  s.probe_window = 2.0;
  s.phonon_configurations = 0;
  return s;
}

// Si [001], cell 8 a square (commensurate), 128^2.
GridGeometry silicon_001_grid() { return GridGeometry{128, 128, 8 * 5.431, 8 * 5.431, 2.0 / 3.0}; }

TEST(SimMultislice, ConservesIntensityForAThinSpecimen) {
  const Crystal si = silicon();
  const Simulated r =
      simulate(si, along(si, {0, 0, 1}, 5.431), silicon_001_grid(), small_settings(2 * 5.431, 5.431 / 4), 200, 0.0025);
  const double n = 128.0 * 128.0;
  EXPECT_GE(total(r.pattern), 0.99 * n);
  EXPECT_LE(total(r.pattern), 1.0001 * n);
}

TEST(SimMultislice, VacuumGivesTheProbeDisc) {
  Crystal empty = silicon();
  empty.atoms.clear();
  const double alpha = 0.0025, energy = 200;
  const Simulated r =
      simulate(empty, along(empty, {0, 0, 1}, 2.0), silicon_001_grid(), small_settings(20, 2), energy, alpha);
  const double radius = alpha / electron_wavelength(energy * 1e3);
  int inside = 0;
  for (int i = 0; i < 128; ++i)
    for (int j = 0; j < 128; ++j) {
      const double kx = (j - 64) / r.grid.lx, ky = (i - 64) / r.grid.ly;
      inside += kx * kx + ky * ky <= radius * radius ? 1 : 0;
    }
  ASSERT_GT(inside, 10);
  const double level = 128.0 * 128.0 / inside;
  for (int i = 0; i < 128; ++i)
    for (int j = 0; j < 128; ++j) {
      const double kx = (j - 64) / r.grid.lx, ky = (i - 64) / r.grid.ly;
      const double expect = kx * kx + ky * ky <= radius * radius ? level : 0.0;
      EXPECT_NEAR(r.pattern[static_cast<std::size_t>(i) * 128 + j], expect, 1e-4 * level) << i << "," << j;
    }
}

// GaAs / Si [110]: beam (1,1,0), ex along [1-10], ey along [00-1]; a cell of 10 a/sqrt2 x 7 a is commensurate.
GridGeometry zincblende_110_grid(double a) { return GridGeometry{128, 128, 10 * a / std::sqrt(2.0), 7 * a, 2.0 / 3.0}; }

struct FriedelPair {
  double plus = 0, minus = 0;
  double asymmetry() const { return std::abs(plus - minus) / (0.5 * (plus + minus)); }
};

// Integrated intensities of the 002/00-2 and 1-11/-11-1 discs of a [110] pattern.
std::vector<FriedelPair> friedel_pairs(const Crystal& crystal, double a, double thickness) {
  const double alpha = 0.0025, energy = 200;
  const Simulated r = simulate(crystal, along(crystal, {1, 1, 0}, a / std::sqrt(8.0)), zincblende_110_grid(a),
                               small_settings(thickness, a / std::sqrt(8.0)), energy, alpha);
  const double radius = 0.9 * alpha / electron_wavelength(energy * 1e3);
  std::vector<FriedelPair> out;
  for (const Hkl hkl : {Hkl{0, 0, 2}, Hkl{1, -1, 1}}) {
    const Vec3 g = reciprocal_vector(reciprocal_basis(crystal.basis), hkl[0], hkl[1], hkl[2]);
    const Projection p = along(crystal, {1, 1, 0}, 1);
    const double gx = dot(g, p.ex), gy = dot(g, p.ey);
    out.push_back({disc_sum(r, gx, gy, radius), disc_sum(r, -gx, -gy, radius)});
  }
  return out;
}

TEST(SimMultislice, FriedelKeptForCentrosymmetricBrokenForZincblende) {
  for (const auto& pair : friedel_pairs(silicon(), 5.431, 200)) {
    std::printf("Si: %g %g asym %g\n", pair.plus, pair.minus, pair.asymmetry());
    EXPECT_GT(pair.plus, 0.0);
    EXPECT_LT(pair.asymmetry(), 1e-3);
  }
  const auto gaas = friedel_pairs(gallium_arsenide(), 5.653, 200);
  for (const auto& pair : gaas) std::printf("GaAs: %g %g asym %g\n", pair.plus, pair.minus, pair.asymmetry());
  EXPECT_GT(gaas[0].asymmetry(), 0.05);  // 002 vs 00-2: the polarity of zincblende
}

// Spearman rank correlation with average ranks for ties.
double rank_correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ranks = [](const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return v[x] < v[y]; });
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < order.size();) {
      std::size_t j = i;
      while (j + 1 < order.size() && std::abs(v[order[j + 1]] - v[order[i]]) <= 1e-6 * std::abs(v[order[i]])) ++j;
      for (std::size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);
      i = j + 1;
    }
    return r;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / ra.size();
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / rb.size();
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Thin slab (one lattice period along a cubic axis) in the weak-phase limit: disc intensities proportional to
// |F(g)|^2 of the ZOLZ reflections.
// The cell holds whole periods along a and b (a along x, b along y for an orthogonal cell viewed along c); the
// semi-angle keeps the discs apart and the cell holds the probe. Checks the rank correlation of the families' mean
// intensities with |F|^2 (>= 0.95) and the ratio to the strongest of every reflection above 5% of it.
void expect_weak_phase_follows_kinematic(const Crystal& crystal, const char* name, double ratio_tolerance) {
  const auto& p = crystal.params;
  const Projection proj = along(crystal, {0, 0, 1}, p.c);
  CbedSettings kin;
  kin.zolz_only = true;
  kin.size = 128;
  const auto prepared = prepare_projection(crystal, proj, kin);
  // Closest lattice rows of the projection (absent reflections included: double scattering can light them).
  const double g_min = std::min(1 / p.a, 1 / p.b);
  const double lambda = electron_wavelength(200e3);
  const double disc = std::min(0.1, 0.45 * g_min);  // disc radius, 1/A
  const double alpha = disc * lambda;
  const double span = 2.44 / disc + 4;  // Airy diameter plus the probe window
  const double lx = std::ceil(span / p.a) * p.a, ly = std::ceil(span / p.b) * p.b;
  const int n = 2 * static_cast<int>(std::ceil(std::max(lx, ly) / 0.3 / 2));
  const GridGeometry grid{n, n, lx, ly, 2.0 / 3.0};
  // One slice holding one period: the phase-grating (projection) limit, where psi_g = i sigma v_g to first order.
  const Simulated r = simulate(crystal, proj, grid, small_settings(p.c, p.c), 200, alpha);
  const double radius = 0.9 * disc;
  std::vector<double> ms, kinematic;
  std::vector<Hkl> hkls;
  for (const auto& g : prepared.reflections) {
    if (std::hypot(g.gx, g.gy) > r.grid.k_max() - radius - 1e-9) continue;
    ms.push_back(disc_sum(r, g.gx, g.gy, radius));
    kinematic.push_back(g.abs_f * g.abs_f);
    hkls.push_back(g.hkl);
  }
  ASSERT_GE(ms.size(), 4U) << name;
  const double strongest_f2 = *std::max_element(kinematic.begin(), kinematic.end());
  double strongest_ms = 0;
  for (std::size_t i = 0; i < ms.size(); ++i)
    if (kinematic[i] == strongest_f2) strongest_ms = std::max(strongest_ms, ms[i]);
  // Ratios of the reflections above 5% of the strongest (weaker ones get a comparable share from double
  // scattering of the strong beams even in one lattice period).
  double worst = 0;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const double ratio_kin = kinematic[i] / strongest_f2;
    if (ratio_kin >= 0.05) worst = std::max(worst, std::abs(ms[i] / strongest_ms / ratio_kin - 1));
  }
  // Rank correlation over families of equal |F|^2 (mean intensity of each family).
  std::vector<std::size_t> order(ms.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return kinematic[x] < kinematic[y]; });
  std::vector<double> family_ms, family_kin;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    double sum = 0;
    while (j < order.size() && std::abs(kinematic[order[j]] - kinematic[order[i]]) <= 1e-9 * kinematic[order[i]])
      sum += ms[order[j++]];
    family_ms.push_back(sum / static_cast<double>(j - i));
    family_kin.push_back(kinematic[order[i]]);
    i = j;
  }
  const double rho = rank_correlation(family_ms, family_kin);
  std::printf("%s: %zu reflections in %zu families, rank correlation %.4f, worst ratio error %.4f\n", name, ms.size(),
              family_ms.size(), rho, worst);
  EXPECT_GE(family_ms.size(), 2U) << name;
  EXPECT_GE(rho, 0.95) << name;
  EXPECT_LT(worst, ratio_tolerance) << name;
}

TEST(SimMultislice, WeakPhaseLimitFollowsKinematicStructureFactors) {
  // Stated tolerance for light and medium elements: 5% on I_g / I_strongest against |F_g|^2 / |F_strongest|^2.
  expect_weak_phase_follows_kinematic(silicon(), "Si [001]", 0.05);
  expect_weak_phase_follows_kinematic(testing::aluminium(), "Al [001]", 0.05);
  expect_weak_phase_follows_kinematic(gallium_arsenide(), "GaAs [001]", 0.05);
  // Random orthorhombic crystals: many reflection families of unrelated strength.
  for (const int group : {19, 62}) {
    const RandomStream stream(11, RngPurpose::test, static_cast<std::uint64_t>(group));
    const Crystal c = random_crystal(group, stream);
    expect_weak_phase_follows_kinematic(c, group == 19 ? "random P212121 [001]" : "random Pnma [001]", 0.05);
    // The same geometry with light atoms (C, N, O by orbit) is a weak phase object: ratios within 0.5%.
    Crystal light = c;
    for (auto& atom : light.atoms) atom.z = 6 + atom.orbit % 3;
    expect_weak_phase_follows_kinematic(light, group == 19 ? "light P212121 [001]" : "light Pnma [001]", 0.005);
  }
}

TEST(SimMultislice, ConvergesAsTheSliceThicknessShrinks) {
  const Crystal gaas = gallium_arsenide();
  const double a = 5.653;
  const auto pattern = [&](double dz) {
    return simulate(gaas, along(gaas, {1, 1, 0}, 2.0), zincblende_110_grid(a), small_settings(120, dz), 200, 0.0025)
        .pattern;
  };
  const auto distance = [](const std::vector<float>& x, const std::vector<float>& y) {
    double d = 0, n = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      d += std::abs(static_cast<double>(x[i]) - y[i]);
      n += y[i];
    }
    return d / n;
  };
  const auto reference = pattern(0.25);
  const double d4 = distance(pattern(4.0), reference), d2 = distance(pattern(2.0), reference),
               d1 = distance(pattern(1.0), reference), d05 = distance(pattern(0.5), reference);
  std::printf("L1 distance to dz = 0.25 A: dz 4: %.4g, 2: %.4g, 1: %.4g, 0.5: %.4g\n", d4, d2, d1, d05);
  EXPECT_GT(d4, d2);
  EXPECT_GT(d2, d1);
  EXPECT_GT(d1, d05);
  EXPECT_LT(d05, 1e-3);
}

TEST(SimMultislice, FrozenPhononsAreDeterministicAndAverage) {
  const Crystal si = silicon(0.5);
  MultisliceSettings s = small_settings(40, 1.92);
  s.phonon_configurations = 2;
  const auto grid = zincblende_110_grid(5.431);
  const auto proj = along(si, {1, 1, 0}, 1.92);
  const auto a = simulate(si, proj, grid, s, 200, 0.0025, 5).pattern;
  const auto b = simulate(si, proj, grid, s, 200, 0.0025, 5).pattern;
  const auto c = simulate(si, proj, grid, s, 200, 0.0025, 6).pattern;
  s.phonon_configurations = 0;
  const auto still = simulate(si, proj, grid, s, 200, 0.0025, 5).pattern;
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));  // same seed: identical bytes
  EXPECT_NE(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));  // another seed: other displacements
  EXPECT_NE(0, std::memcmp(a.data(), still.data(), a.size() * sizeof(float)));
}

TEST(SimMultislice, ThreadsDoNotChangeThePattern) {
  const Crystal gaas = gallium_arsenide();
  MultisliceSettings s = small_settings(30, 2.0);
  s.probe_grid = 3;
  GridGeometry grid = zincblende_110_grid(5.653);
  s.grid = grid.nx;
  const auto proj = along(gaas, {1, 1, 0}, 2.0);
  std::vector<std::vector<float>> out;
  for (const int threads : {1, 2}) {
    auto engine = make_cpu_engine(threads);
    out.emplace_back(static_cast<std::size_t>(grid.nx) * static_cast<std::size_t>(grid.ny));
    render_multislice(gaas, proj, grid, s, {200}, 0.0025, PhononSource{}, *engine, {out.back().data()});
  }
  EXPECT_EQ(0, std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)));
}

std::string sampling_error(const GridGeometry& grid, const MultisliceSettings& s, double energy, double alpha) {
  try {
    check_sampling(s, grid, 2.0, {energy}, alpha);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(SimMultislice, SamplingRulesAreClearErrors) {
  MultisliceSettings s;
  EXPECT_EQ(sampling_error({512, 512, 100, 100, 2.0 / 3}, s, 100, semi_angle_for(2.0)), "");
  // A coarse grid: 128 px over 100 A.
  EXPECT_NE(sampling_error({128, 128, 100, 100, 2.0 / 3}, s, 100, 0.005).find("--size"), std::string::npos);
  // A cell too small for the probe: 64 px over 20 A with a 2 mrad probe (Airy diameter ~45 A at 100 kV).
  EXPECT_NE(sampling_error({64, 64, 20, 20, 2.0 / 3}, s, 100, 0.002).find("--cell"), std::string::npos);
  // A disc larger than the band limit.
  EXPECT_NE(sampling_error({128, 128, 50, 50, 2.0 / 3}, s, 100, 0.05).find("band limit"), std::string::npos);
  // The default 128^2 run (64 A cell) holds the largest disc of the simulator's range (d = 1 A at 190 keV).
  EXPECT_EQ(sampling_error({128, 128, 64, 64, 2.0 / 3}, s, 190, semi_angle_for(1.0)), "");
  // Energy, semi-angle, slices.
  EXPECT_NE(sampling_error({512, 512, 100, 100, 2.0 / 3}, s, 5, 0.005).find("keV"), std::string::npos);
  EXPECT_NE(sampling_error({512, 512, 100, 100, 2.0 / 3}, s, 100, 0.5).find("semi-angle"), std::string::npos);
  s.slice_thickness = 200;
  EXPECT_NE(sampling_error({512, 512, 100, 100, 2.0 / 3}, s, 100, 0.005).find("--slice-thickness"), std::string::npos);
  s = MultisliceSettings{};
  s.thickness = -1;
  EXPECT_NE(sampling_error({512, 512, 100, 100, 2.0 / 3}, s, 100, 0.005).find("--thickness"), std::string::npos);
}

// Largest |I(q) - I(R q)| over the pattern, relative to the largest intensity outside the bright-field disc, for a
// pixel map R about the centre (centred pattern, square grid for rotations).
using PixelMap = std::function<std::array<int, 2>(int, int)>;  // (row, column) offsets from the centre
double symmetry_deviation(const Simulated& r, const PixelMap& map) {
  const int n = r.grid.nx, c = n / 2;
  double worst = 0, peak = 0;
  for (int i = 1; i < n; ++i)
    for (int j = 1; j < n; ++j) {
      const auto [mi, mj] = map(i - c, j - c);
      if (mi + c < 1 || mi + c >= n || mj + c < 1 || mj + c >= n) continue;
      const double a = r.pattern[static_cast<std::size_t>(i) * n + j];
      const double b = r.pattern[static_cast<std::size_t>(mi + c) * n + (mj + c)];
      worst = std::max(worst, std::abs(a - b));
      if (std::hypot(i - c, j - c) > 0.15 * n) peak = std::max(peak, a);
    }
  return worst / peak;
}

// Whole-pattern symmetry of [001] patterns at 150 A against the diffraction groups (cbed-physics.md section 2.1).
// Both crystals have a true 2-fold along [001] and true mirrors on the diagonals {110}: these hold to rounding.
// Si (Fd-3m, 4mm1_R): its 4-fold is a 4_1 screw and its x/y planes are d-glides, both translating along the beam,
// which a finite slab keeps up to its terminations (~5e-4 here). GaAs (F-43m, 4_Rmm_R): its 4-fold is 4-bar (4_R)
// and the x/y "mirrors" are 2-fold axes across the beam (m_R), absent from the whole pattern: broken by more than
// twice the termination effect.
TEST(SimMultislice, ZoneAxisPatternsHaveTheirDiffractionGroupSymmetry) {
  const PixelMap rot90 = [](int i, int j) { return std::array<int, 2>{-j, i}; };
  const PixelMap rot180 = [](int i, int j) { return std::array<int, 2>{-i, -j}; };
  const PixelMap mirror_x = [](int i, int j) { return std::array<int, 2>{i, -j}; };
  const PixelMap mirror_y = [](int i, int j) { return std::array<int, 2>{-i, j}; };
  const PixelMap mirror_diagonal = [](int i, int j) { return std::array<int, 2>{j, i}; };
  const PixelMap mirror_antidiagonal = [](int i, int j) { return std::array<int, 2>{-j, -i}; };
  std::array<std::array<double, 3>, 2> broken{};  // [Si, GaAs] x (4-fold, m_x, m_y)
  for (const bool zincblende : {false, true}) {
    const Crystal c = zincblende ? gallium_arsenide() : silicon();
    const double a = c.params.a;
    const GridGeometry grid{128, 128, 8 * a, 8 * a, 2.0 / 3.0};
    const Simulated r = simulate(c, along(c, {0, 0, 1}, a / 4), grid, small_settings(150, a / 4), 200, 0.002);
    const char* name = zincblende ? "GaAs" : "Si";
    for (const auto& [map, what] : {std::pair{rot180, "2-fold"}, std::pair{mirror_diagonal, "m [110]"},
                                    std::pair{mirror_antidiagonal, "m [1-10]"}}) {
      const double d = symmetry_deviation(r, map);
      std::printf("%s [001] %s: %.2e\n", name, what, d);
      EXPECT_LT(d, 1e-4) << name << " " << what;
    }
    auto& b = broken[zincblende ? 1 : 0];
    b = {symmetry_deviation(r, rot90), symmetry_deviation(r, mirror_x), symmetry_deviation(r, mirror_y)};
    std::printf("%s [001] 4-fold %.2e, m_x %.2e, m_y %.2e\n", name, b[0], b[1], b[2]);
  }
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_LT(broken[0][k], 1e-3);                // Si: kept up to the slab terminations
    EXPECT_GT(broken[1][k], 2.0 * broken[0][k]);  // GaAs: 4_R and m_R are not whole-pattern symmetries
  }
}

// [110] at 200 A (commensurate rectangular cells, x along [1-10], y along [00-1]). Si (2mm1_R): the (1-10) mirror
// (x -> -x) is true; the (001) plane (y -> -y) is a d-glide translating along the beam, and with it the 2-fold, kept
// up to the slab terminations (1.3e-4). GaAs (-43m): only the (1-10) mirror is in the whole pattern; y -> -y and the
// 2-fold (the 002 / 00-2 polarity) break at the level of the pattern itself.
TEST(SimMultislice, Zone110PatternsHaveTheirDiffractionGroupSymmetry) {
  const PixelMap rot180 = [](int i, int j) { return std::array<int, 2>{-i, -j}; };
  const PixelMap mirror_x = [](int i, int j) { return std::array<int, 2>{i, -j}; };
  const PixelMap mirror_y = [](int i, int j) { return std::array<int, 2>{-i, j}; };
  for (const bool zincblende : {false, true}) {
    const Crystal c = zincblende ? gallium_arsenide() : silicon();
    const double a = c.params.a;
    const Simulated r = simulate(c, along(c, {1, 1, 0}, a / std::sqrt(8.0)), zincblende_110_grid(a),
                                 small_settings(200, a / std::sqrt(8.0)), 200, 0.0025);
    const double r180 = symmetry_deviation(r, rot180), mx = symmetry_deviation(r, mirror_x),
                 my = symmetry_deviation(r, mirror_y);
    std::printf("%s [110]: 2-fold %.2e, m_x %.2e, m_y %.2e\n", zincblende ? "GaAs" : "Si", r180, mx, my);
    EXPECT_LT(mx, 1e-4);
    if (zincblende) {
      EXPECT_GT(r180, 1e-2);
      EXPECT_GT(my, 1e-2);
    } else {
      EXPECT_LT(r180, 1e-3);
      EXPECT_LT(my, 1e-3);
    }
  }
}

}  // namespace
}  // namespace cbednet::io::sim::multislice
