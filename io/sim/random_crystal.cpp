#include "io/sim/random_crystal.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "core/error.hpp"
#include "io/sim/space_group_table.hpp"

namespace cbednet::io::sim {
namespace {

// Draws of one attempt: uniform numbers addressed by (attempt, running counter).
class Draws {
 public:
  Draws(const RandomStream& stream, std::uint64_t attempt) : stream_(stream), attempt_(attempt) {}
  double uniform() { return stream_.uniform(attempt_, counter_++); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(stream_.below(static_cast<std::uint64_t>(n), attempt_, counter_++)); }

 private:
  const RandomStream& stream_;
  std::uint64_t attempt_;
  std::uint64_t counter_ = 0;
};

// Elements found in inorganic crystals, oxygen weighted up as in oxide-rich databases (Materials Project).
constexpr std::array<int, 52> element_pool = {8,  8,  8,  8,  8,  9,  7,  6,  16, 17, 3,  11, 19, 12, 20, 38, 56, 13,
                                              14, 15, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 34, 39, 40, 41, 42,
                                              44, 46, 47, 48, 49, 50, 51, 52, 57, 58, 60, 72, 74, 78, 79, 83};

// Lattice shape with unit scale, consistent with the crystal system (cbed-physics.md section 5.4).
LatticeParameters draw_shape(int system, Draws& d) {
  LatticeParameters p;
  auto ratio = [&] { return d.uniform(0.6, 1.7); };
  switch (system) {
    case 0:  // triclinic
      p = {1.0, ratio(), ratio(), d.uniform(65, 115), d.uniform(65, 115), d.uniform(65, 115)};
      break;
    case 1:  // monoclinic, unique axis b
      p = {1.0, ratio(), ratio(), 90, d.uniform(93, 118), 90};
      break;
    case 2:
      p = {1.0, ratio(), ratio(), 90, 90, 90};
      break;
    case 3:
      p.a = p.b = 1.0;
      p.c = d.uniform(0.5, 2.2);
      break;
    case 4:
    case 5:  // trigonal (R groups on hexagonal axes) and hexagonal
      p.a = p.b = 1.0;
      p.c = d.uniform(0.5, 3.0);
      p.gamma = 120;
      break;
    default:
      p.a = p.b = p.c = 1.0;
  }
  return p;
}

// Lengths that the system leaves free must differ clearly, or the metric alone gains symmetry.
bool shape_is_generic(int system, const LatticeParameters& p) {
  auto apart = [](double x, double y) { return std::abs(x / y - 1.0) > 0.08; };
  switch (system) {
    case 0:
    case 1:
    case 2:
      return apart(p.a, p.b) && apart(p.b, p.c) && apart(p.a, p.c);
    case 3:
      return apart(p.a, p.c);
    default:
      return true;
  }
}

// A point fixed by operation `op`: the mean of its cyclic orbit (unreduced), if that mean is fixed mod 1
// (it is not for screw axes and glides, whose powers add a lattice translation).
std::optional<Vec3> fixed_point(const SymmetryOperations& ops, std::size_t op, const Vec3& x) {
  const auto& w = ops.rotations[op];
  const auto& t = ops.translations[op];
  auto apply = [&](const Vec3& v) {
    Vec3 y{};
    for (int r = 0; r < 3; ++r) y[r] = w[r][0] * v[0] + w[r][1] * v[1] + w[r][2] * v[2] + t[r];
    return y;
  };
  Vec3 sum = x, y = x;
  int order = 1;
  for (; order <= 6; ++order) {
    y = apply(y);
    bool identity_rotation = true;  // W^order == I is detected by y returning to x up to a translation
    Vec3 diff{};
    for (int r = 0; r < 3; ++r) diff[r] = y[r] - x[r];
    for (int r = 0; r < 3; ++r) identity_rotation = identity_rotation && std::abs(diff[r] - std::round(diff[r])) < 1e-9;
    if (identity_rotation) break;
    for (int r = 0; r < 3; ++r) sum[r] += y[r];
  }
  if (order > 6) return std::nullopt;
  Vec3 mean{};
  for (int r = 0; r < 3; ++r) mean[r] = sum[r] / order;
  const Vec3 image = apply(mean);
  for (int r = 0; r < 3; ++r)
    if (std::abs(image[r] - mean[r] - std::round(image[r] - mean[r])) > 1e-9) return std::nullopt;
  for (auto& v : mean) v -= std::floor(v);
  return mean;
}

// How an orbit's representative is made from a random point: general, or fixed by one or two operations.
struct OrbitRecipe {
  int z = 0;
  double b_iso = 0;
  std::array<int, 2> ops{-1, -1};
};

std::optional<Vec3> place(const SymmetryOperations& ops, const OrbitRecipe& recipe, Draws& d) {
  Vec3 x{d.uniform(), d.uniform(), d.uniform()};
  for (const int op : recipe.ops) {
    if (op < 0) continue;
    const auto fixed = fixed_point(ops, static_cast<std::size_t>(op), x);
    if (!fixed) return std::nullopt;
    x = *fixed;
  }
  // The second averaging may leave the first operation's fixed set; then the site is just less special.
  return x;
}

std::optional<Crystal> attempt(int space_group, const SpaceGroupInfo& info, Draws& d,
                               const RandomCrystalOptions& options, int max_atoms) {
  const int system = crystal_system_index(space_group);
  const auto& ops = symmetry_operations(info.hall_number);
  const int n_ops = static_cast<int>(ops.size());

  LatticeParameters shape = draw_shape(system, d);
  if (!shape_is_generic(system, shape)) return std::nullopt;

  // Orbits: at least three atoms' worth of independent coordinates, since 1-2 atom motifs are centrosymmetric.
  const int n_orbits = 2 + d.below(4) + (n_ops <= 2 ? 2 : 0);
  std::vector<OrbitRecipe> recipes;
  std::vector<std::vector<Vec3>> unit_sites;  // sites with unit-scale shape, to count atoms first
  int total = 0;
  for (int o = 0; o < n_orbits; ++o) {
    OrbitRecipe recipe;
    recipe.z = element_pool[static_cast<std::size_t>(d.below(static_cast<int>(element_pool.size())))];
    recipe.b_iso = d.uniform(0.3, 1.0);
    const double special = n_ops > 1 ? d.uniform() : 1.0;
    const bool must_be_special = total + n_ops > max_atoms;
    if (special < 0.5 || must_be_special) {
      recipe.ops[0] = 1 + d.below(n_ops - 1);
      if (must_be_special || d.uniform() < 0.4) recipe.ops[1] = 1 + d.below(n_ops - 1);
    }
    std::optional<Vec3> x;
    for (int tries = 0; tries < 8 && !x; ++tries) x = place(ops, recipe, d);
    if (!x) continue;
    auto sites = expand_orbit(ops, *x);
    if (total + static_cast<int>(sites.size()) > max_atoms) continue;
    total += static_cast<int>(sites.size());
    recipes.push_back(recipe);
    unit_sites.push_back(std::move(sites));
  }
  if (recipes.size() < 2 || total < 3) return std::nullopt;

  // Scale the cell to a realistic volume per atom (10-22 A^3), then place the orbits without clashes.
  const double volume_per_atom = d.uniform(10.0, 22.0);
  const double unit_volume = [&] {
    Crystal probe;
    probe.basis = lattice_basis(shape);
    return probe.volume();
  }();
  const double scale = std::cbrt(volume_per_atom * total / unit_volume);
  LatticeParameters params = shape;
  params.a *= scale;
  params.b *= scale;
  params.c *= scale;
  if (std::min({params.a, params.b, params.c}) < 2.5) return std::nullopt;
  const Mat3 basis = lattice_basis(params);

  Crystal crystal;
  crystal.hall_number = info.hall_number;
  crystal.params = params;
  crystal.basis = basis;
  for (std::size_t o = 0; o < recipes.size(); ++o) {
    bool placed = false;
    for (int tries = 0; tries < 40 && !placed; ++tries) {
      const auto x = place(ops, recipes[o], d);
      if (!x) continue;
      const auto sites = expand_orbit(ops, *x);
      if (sites.size() != unit_sites[o].size()) continue;
      // The operations are isometries and both the orbit and the atoms placed so far are invariant under them,
      // so every close pair has an image that involves the orbit's first site.
      bool clash = false;
      for (std::size_t j = 1; j < sites.size() && !clash; ++j)
        clash = periodic_distance(basis, sites[0], sites[j]) < options.min_distance;
      for (std::size_t j = 0; j < crystal.atoms.size() && !clash; ++j)
        clash = periodic_distance(basis, sites[0], crystal.atoms[j].frac) < options.min_distance;
      if (clash) continue;
      for (const auto& s : sites) crystal.atoms.push_back({recipes[o].z, s, recipes[o].b_iso, static_cast<int>(o)});
      placed = true;
    }
    if (!placed) return std::nullopt;
  }
  if (detect_space_group(crystal, options.symprec) != space_group) return std::nullopt;
  crystal.space_group = space_group;
  return crystal;
}

}  // namespace

Crystal random_crystal(int space_group, const RandomStream& stream, const RandomCrystalOptions& options,
                       int* attempts_used) {
  const SpaceGroupInfo& info = space_group_info(space_group);
  for (int a = 0; a < options.max_attempts; ++a) {
    Draws draws(stream, static_cast<std::uint64_t>(a));
    // Some groups (e.g. Fd-3) have only special positions that a supergroup shares, so they need a general
    // orbit plus another; after an eighth of the attempts the cell may grow to 1.5 general orbits.
    const int n_ops = static_cast<int>(symmetry_operations(info.hall_number).size());
    const int max_atoms =
        8 * a < options.max_attempts ? options.max_atoms : std::max(options.max_atoms, n_ops + n_ops / 2);
    if (auto crystal = attempt(space_group, info, draws, options, max_atoms)) {
      if (attempts_used != nullptr) *attempts_used = a + 1;
      return std::move(*crystal);
    }
  }
  throw_error<Error>("simulator: no random crystal of space group ", space_group, " (", info.symbol, ") after ",
                     options.max_attempts, " attempts");
}

}  // namespace cbednet::io::sim
