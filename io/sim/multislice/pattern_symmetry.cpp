#include "io/sim/multislice/pattern_symmetry.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <numeric>
#include <utility>

#include "core/error.hpp"

namespace cbednet::io::sim::multislice {
namespace {

constexpr double integer_tolerance = 1e-6;  // lattice and pixel coordinates this close to an integer are one

bool near_integer(double v) { return std::abs(v - std::round(v)) < integer_tolerance; }

double norm2(const Vec2& v) { return std::hypot(v[0], v[1]); }
double dot2(const Vec2& a, const Vec2& b) { return a[0] * b[0] + a[1] * b[1]; }
double cross2(const Vec2& a, const Vec2& b) { return a[0] * b[1] - a[1] * b[0]; }

Vec2 combine(const std::array<Vec2, 2>& basis, long i, long j) {
  return {static_cast<double>(i) * basis[0][0] + static_cast<double>(j) * basis[1][0],
          static_cast<double>(i) * basis[0][1] + static_cast<double>(j) * basis[1][1]};
}

// "m[uvw]": the name of a mirror whose line runs along [uvw].
std::string mirror_name(const std::array<int, 3>& uvw) {
  std::string s = "m[";
  for (const int v : uvw) {
    if (v < 0) s.push_back('-');
    s.append(std::to_string(std::abs(v)));
  }
  s.push_back(']');
  return s;
}

// The shortest integer direction [uvw] parallel to a lattice vector given in cell fractions (centred lattices
// have fractional ones).
std::array<int, 3> integer_direction(const Vec3& frac) {
  for (int scale = 1; scale <= 12; ++scale) {
    if (!near_integer(scale * frac[0]) || !near_integer(scale * frac[1]) || !near_integer(scale * frac[2])) continue;
    std::array<int, 3> uvw{};
    for (int k = 0; k < 3; ++k) uvw[k] = static_cast<int>(std::lround(scale * frac[k]));
    const int g = std::gcd(std::gcd(uvw[0], uvw[1]), uvw[2]);
    // A line has no sign: its first non-zero index is made positive.
    const int sign = (uvw[0] != 0 ? uvw[0] : uvw[1] != 0 ? uvw[1] : uvw[2]) < 0 ? -1 : 1;
    for (auto& v : uvw) v /= sign * g;
    return uvw;
  }
  throw InvalidArgument("pattern symmetry: lattice vector with irrational cell fractions");
}

// Lattice coordinates (i, j) of a detector vector on the disc lattice, when it is a lattice point.
bool lattice_coordinates(const ProjectedLattice& lattice, const Vec2& q, std::array<long, 2>& ij) {
  const double i = dot2(q, lattice.direct[0]), j = dot2(q, lattice.direct[1]);
  if (!near_integer(i) || !near_integer(j)) return false;
  ij = {std::lround(i), std::lround(j)};
  return true;
}

bool maps_lattice(const ProjectedLattice& lattice, const PlaneOperation& op) {
  std::array<long, 2> ij{};
  return lattice_coordinates(lattice, op.apply(lattice.reciprocal[0]), ij) &&
         lattice_coordinates(lattice, op.apply(lattice.reciprocal[1]), ij);
}

// Pixel offset (column, row) of a k-vector on the grid, when it is a pixel.
bool pixel_offset(const GridGeometry& grid, const Vec2& k, std::array<long, 2>& cr) {
  const double c = k[0] * grid.lx, r = k[1] * grid.ly;
  if (!near_integer(c) || !near_integer(r)) return false;
  cr = {std::lround(c), std::lround(r)};
  return true;
}

Vec2 pixel_k(const GridGeometry& grid, const std::array<long, 2>& cr) {
  return {static_cast<double>(cr[0]) / grid.lx, static_cast<double>(cr[1]) / grid.ly};
}

}  // namespace

std::vector<Vec3> lattice_translations(const Crystal& crystal) {
  std::vector<Vec3> out{{0, 0, 0}};
  if (crystal.atoms.empty()) return out;
  const auto wrap = [](double v) { return v - std::floor(v + 1e-9); };
  const auto same_site = [&](const Vec3& a, const Vec3& b) {
    for (int k = 0; k < 3; ++k) {
      const double d = std::abs(wrap(a[k] - b[k]));
      if (std::min(d, 1 - d) > 1e-4) return false;
    }
    return true;
  };
  const Atom& first = crystal.atoms.front();
  for (const Atom& candidate : crystal.atoms) {
    if (candidate.z != first.z || candidate.occupancy != first.occupancy) continue;
    const Vec3 t{wrap(candidate.frac[0] - first.frac[0]), wrap(candidate.frac[1] - first.frac[1]),
                 wrap(candidate.frac[2] - first.frac[2])};
    if (std::any_of(out.begin(), out.end(), [&](const Vec3& u) { return same_site(u, t); })) continue;
    const bool maps = std::all_of(crystal.atoms.begin(), crystal.atoms.end(), [&](const Atom& a) {
      const Vec3 moved{a.frac[0] + t[0], a.frac[1] + t[1], a.frac[2] + t[2]};
      return std::any_of(crystal.atoms.begin(), crystal.atoms.end(), [&](const Atom& b) {
        return b.z == a.z && b.occupancy == a.occupancy && same_site(b.frac, moved);
      });
    });
    if (maps) out.push_back(t);
  }
  return out;
}

ProjectedLattice projected_lattice(const Crystal& crystal, const Projection& projection, int max_index) {
  struct Candidate {
    Vec3 frac;
    Vec2 t;
    double length;
  };
  std::vector<Candidate> normal;
  for (const Vec3& c : lattice_translations(crystal))
    for (int u = -max_index; u <= max_index; ++u)
      for (int v = -max_index; v <= max_index; ++v)
        for (int w = -max_index; w <= max_index; ++w) {
          const Vec3 f{u + c[0], v + c[1], w + c[2]};
          const Vec3 t = mat_vec(crystal.basis, f);
          if (norm(t) < 1e-9 || std::abs(dot(t, projection.beam)) > 1e-9 * norm(t)) continue;
          normal.push_back({f, {dot(t, projection.ex), dot(t, projection.ey)}, norm(t)});
        }
  std::stable_sort(normal.begin(), normal.end(),
                   [](const Candidate& a, const Candidate& b) { return a.length < b.length - 1e-9; });
  CBEDNET_REQUIRE(!normal.empty(), InvalidArgument, "pattern symmetry: no lattice vector with indices up to ",
                  max_index, " is normal to the beam");
  // In two dimensions the shortest vector and the shortest one independent of it form a reduced basis.
  const Candidate first = normal.front();
  const Candidate* second = nullptr;
  for (const auto& c : normal)
    if (std::abs(cross2(first.t, c.t)) > 1e-6 * first.length * c.length) {
      second = &c;
      break;
    }
  CBEDNET_REQUIRE(second != nullptr, InvalidArgument,
                  "pattern symmetry: the lattice vectors normal to the beam with indices up to ", max_index,
                  " are all parallel: the beam is not the normal of a lattice plane");
  ProjectedLattice out;
  out.direct_frac = {first.frac, second->frac};
  out.direct = {first.t, second->t};
  const double det = cross2(out.direct[0], out.direct[1]);
  // Dual basis: reciprocal[i] . direct[j] = delta_ij.
  out.reciprocal[0] = {out.direct[1][1] / det, -out.direct[1][0] / det};
  out.reciprocal[1] = {-out.direct[0][1] / det, out.direct[0][0] / det};
  return out;
}

GridGeometry commensurate_grid(const Crystal& crystal, const Projection& projection, const std::array<int, 2>& repeats,
                               double max_pixel, int divisions, double band_limit) {
  CBEDNET_REQUIRE(repeats[0] >= 1 && repeats[1] >= 1 && max_pixel > 0 && divisions >= 1, InvalidArgument,
                  "commensurate grid: repeats and divisions must be >= 1 and the pixel positive");
  const ProjectedLattice lattice = projected_lattice(crystal, projection);
  std::array<double, 2> period{0, 0};
  for (int axis = 0; axis < 2; ++axis) {
    constexpr long range = 12;
    for (long i = -range; i <= range; ++i)
      for (long j = -range; j <= range; ++j) {
        const Vec2 t = combine(lattice.direct, i, j);
        const double length = norm2(t);
        // Along +ex (axis 0) or +ey (axis 1).
        if (length < 1e-9 || std::abs(t[1 - axis]) > 1e-9 * length || t[axis] < 0) continue;
        if (period[axis] == 0 || length < period[axis]) period[axis] = length;
      }
    CBEDNET_REQUIRE(period[axis] > 0, InvalidArgument,
                    "commensurate grid: the lattice normal to the beam has no vector along the detector's ",
                    axis == 0 ? "x" : "y", " axis (an oblique projected lattice): no rectangular periodic cell");
  }
  GridGeometry grid;
  grid.lx = repeats[0] * period[0];
  grid.ly = repeats[1] * period[1];
  // Pixels per period: the smallest multiple of `divisions` (even overall) that keeps the pixel within max_pixel.
  const auto pixels = [&](double period_length, int repeat) {
    const int step = divisions % 2 == 0 || repeat % 2 == 0 ? divisions : 2 * divisions;
    const int per_period = step * static_cast<int>(std::ceil(period_length / max_pixel / step - 1e-9));
    return per_period * repeat;
  };
  grid.nx = pixels(period[0], repeats[0]);
  grid.ny = pixels(period[1], repeats[1]);
  grid.band_limit = band_limit;
  return grid;
}

PlaneOperation rotation_operation(int n) {
  CBEDNET_REQUIRE(n >= 1, InvalidArgument, "rotation order must be >= 1, got ", n);
  const double a = 2 * std::numbers::pi / n;
  return {std::to_string(n), {std::cos(a), -std::sin(a), std::sin(a), std::cos(a)}};
}

PlaneOperation mirror_operation(const Vec2& line, const std::string& name) {
  const double length = norm2(line);
  CBEDNET_REQUIRE(length > 0, InvalidArgument, "mirror ", name, ": the line needs a direction");
  const double c = line[0] / length, s = line[1] / length;
  return {name, {c * c - s * s, 2 * c * s, 2 * c * s, s * s - c * c}};
}

std::vector<PlaneOperation> lattice_operations(const ProjectedLattice& lattice) {
  std::vector<PlaneOperation> out;
  for (const int n : {2, 3, 4, 6}) {
    const PlaneOperation r = rotation_operation(n);
    if (maps_lattice(lattice, r)) out.push_back(r);
  }
  // Mirror lines of a lattice run along lattice rows: try the short direct vectors i d0 + j d1, one per line.
  std::vector<std::pair<double, std::array<long, 2>>> rows;
  constexpr long range = 4;
  for (long i = -range; i <= range; ++i)
    for (long j = 0; j <= range; ++j) {
      if ((j == 0 && i <= 0) || std::gcd(i, j) != 1) continue;
      rows.push_back({norm2(combine(lattice.direct, i, j)), {i, j}});
    }
  std::sort(rows.begin(), rows.end());
  std::vector<Vec2> lines;
  for (const auto& [row_length, ij] : rows) {
    const Vec2 t = combine(lattice.direct, ij[0], ij[1]);
    const double length = row_length;  // clang 14 (the fuzzing build) cannot capture a structured binding
    const bool seen = std::any_of(lines.begin(), lines.end(),
                                  [&](const Vec2& l) { return std::abs(cross2(l, t)) < 1e-9 * norm2(l) * length; });
    if (seen) continue;
    Vec3 frac{};
    for (int k = 0; k < 3; ++k)
      frac[k] = static_cast<double>(ij[0]) * lattice.direct_frac[0][k] +
                static_cast<double>(ij[1]) * lattice.direct_frac[1][k];
    const PlaneOperation m = mirror_operation(t, mirror_name(integer_direction(frac)));
    if (!maps_lattice(lattice, m)) continue;
    lines.push_back(t);
    out.push_back(m);
  }
  return out;
}

double shortest_g(const ProjectedLattice& lattice) {
  double shortest = 0;
  for (long i = -3; i <= 3; ++i)
    for (long j = -3; j <= 3; ++j) {
      const double g = norm2(combine(lattice.reciprocal, i, j));
      if ((i != 0 || j != 0) && (shortest == 0 || g < shortest)) shortest = g;
    }
  return shortest;
}

DiscSymmetry::DiscSymmetry(const GridGeometry& grid, const ProjectedLattice& lattice, double radius,
                           std::vector<PlaneOperation> operations, double field)
    : grid_(grid), operations_(std::move(operations)) {
  CBEDNET_REQUIRE(radius > 0, InvalidArgument, "pattern symmetry: disc radius must be positive");
  std::array<long, 2> cr{};
  for (const auto& r : lattice.reciprocal)
    CBEDNET_REQUIRE(pixel_offset(grid_, r, cr), InvalidArgument, "pattern symmetry: the ", grid_.lx, " x ", grid_.ly,
                    " A cell is not commensurate with the projected lattice (g_t = ", r[0], ", ", r[1],
                    " 1/A is not a pixel)");
  const double g_min = shortest_g(lattice);
  CBEDNET_REQUIRE(2 * radius < g_min, InvalidArgument, "pattern symmetry: discs of radius ", radius,
                  " 1/A overlap (shortest g_t ", g_min, " 1/A); the pattern would depend on the probe position");
  for (const auto& op : operations_)
    CBEDNET_REQUIRE(maps_lattice(lattice, op), InvalidArgument, "pattern symmetry: operation ", op.name,
                    " does not map the disc lattice onto itself");
  const auto offset_index = select_offsets(radius);
  const auto disc_index = select_discs(lattice, radius, field > 0 ? std::min(field, grid_.k_max()) : grid_.k_max());
  for (const auto& op : operations_) {
    std::vector<std::size_t> discs(centres_.size()), offsets(offsets_.size());
    for (std::size_t d = 0; d < centres_.size(); ++d) {
      std::array<long, 2> ij{};
      const bool on_lattice = lattice_coordinates(lattice, op.apply(pixel_k(grid_, centres_[d])), ij);
      const auto it = disc_index.find(ij);
      CBEDNET_REQUIRE(on_lattice && it != disc_index.end(), InvalidArgument, "pattern symmetry: operation ", op.name,
                      " maps a disc out of the set");
      discs[d] = it->second;
    }
    for (std::size_t o = 0; o < offsets_.size(); ++o) {
      std::array<long, 2> image{};
      (void)pixel_offset(grid_, op.apply(pixel_k(grid_, offsets_[o])), image);
      const auto it = offset_index.find(image);
      CBEDNET_REQUIRE(it != offset_index.end(), InvalidArgument, "pattern symmetry: operation ", op.name,
                      " maps a disc pixel out of the set (the operations do not form a group)");
      offsets[o] = it->second;
    }
    disc_image_.push_back(std::move(discs));
    offset_image_.push_back(std::move(offsets));
  }
}

// Offsets inside a disc that every operation maps onto a pixel.
std::map<std::array<long, 2>, std::size_t> DiscSymmetry::select_offsets(double radius) {
  const long half_x = static_cast<long>(std::ceil(radius * grid_.lx)),
             half_y = static_cast<long>(std::ceil(radius * grid_.ly));
  std::map<std::array<long, 2>, std::size_t> index;
  for (long r = -half_y; r <= half_y; ++r)
    for (long c = -half_x; c <= half_x; ++c) {
      const Vec2 k = pixel_k(grid_, {c, r});
      if (norm2(k) > radius * (1 + 1e-12)) continue;
      const bool mapped = std::all_of(operations_.begin(), operations_.end(), [&](const PlaneOperation& op) {
        std::array<long, 2> image{};
        return pixel_offset(grid_, op.apply(k), image);
      });
      if (!mapped) continue;
      index[{c, r}] = offsets_.size();
      offsets_.push_back({c, r});
    }
  CBEDNET_REQUIRE(!offsets_.empty(), InvalidArgument, "pattern symmetry: no pixel of a disc of radius ", radius,
                  " 1/A is mapped onto a pixel by every operation");
  return index;
}

// Dark-field discs wholly inside |k| <= k_max, by lattice coordinates.
std::map<std::array<long, 2>, std::size_t> DiscSymmetry::select_discs(const ProjectedLattice& lattice, double radius,
                                                                      double k_max) {
  const long range =
      static_cast<long>(std::ceil(k_max * std::max(norm2(lattice.direct[0]), norm2(lattice.direct[1])))) + 1;
  std::map<std::array<long, 2>, std::size_t> index;
  for (long i = -range; i <= range; ++i)
    for (long j = -range; j <= range; ++j) {
      const Vec2 g = combine(lattice.reciprocal, i, j);
      std::array<long, 2> cr{};
      if ((i == 0 && j == 0) || norm2(g) + radius > k_max * (1 - 1e-9) || !pixel_offset(grid_, g, cr)) continue;
      index[{i, j}] = centres_.size();
      centres_.push_back(cr);
    }
  CBEDNET_REQUIRE(!centres_.empty(), InvalidArgument, "pattern symmetry: no dark-field disc lies inside ", k_max,
                  " 1/A");
  return index;
}

std::size_t DiscSymmetry::pixel(std::size_t disc, std::size_t offset) const {
  const long col = centres_[disc][0] + offsets_[offset][0] + grid_.nx / 2;
  const long row = centres_[disc][1] + offsets_[offset][1] + grid_.ny / 2;
  return static_cast<std::size_t>(row) * static_cast<std::size_t>(grid_.nx) + static_cast<std::size_t>(col);
}

std::vector<double> DiscSymmetry::disc_intensities(const float* pattern) const {
  std::vector<double> out(centres_.size(), 0.0);
  for (std::size_t d = 0; d < centres_.size(); ++d)
    for (std::size_t o = 0; o < offsets_.size(); ++o) out[d] += pattern[pixel(d, o)];
  return out;
}

SymmetryResidual DiscSymmetry::residual(const float* pattern, std::size_t op) const {
  CBEDNET_REQUIRE(op < operations_.size(), InvalidArgument, "pattern symmetry: operation ", op, " of ",
                  operations_.size());
  const auto& discs = disc_image_[op];
  const auto& offsets = offset_image_[op];
  const std::vector<double> sums = disc_intensities(pattern);
  double disc_diff = 0, disc_norm = 0, pixel_diff = 0, pixel_norm = 0;
  for (std::size_t d = 0; d < centres_.size(); ++d) {
    disc_diff += std::pow(sums[d] - sums[discs[d]], 2);
    disc_norm += sums[d] * sums[d];
    for (std::size_t o = 0; o < offsets_.size(); ++o) {
      const double a = pattern[pixel(d, o)], b = pattern[pixel(discs[d], offsets[o])];
      pixel_diff += (a - b) * (a - b);
      pixel_norm += a * a;
    }
  }
  return {disc_norm > 0 ? std::sqrt(disc_diff / disc_norm) : 0.0,
          pixel_norm > 0 ? std::sqrt(pixel_diff / pixel_norm) : 0.0};
}

SymmetryResidual DiscSymmetry::residual(const float* pattern, const std::string& name) const {
  for (std::size_t op = 0; op < operations_.size(); ++op)
    if (operations_[op].name == name) return residual(pattern, op);
  throw InvalidArgument("pattern symmetry: no operation named " + name);
}

}  // namespace cbednet::io::sim::multislice
