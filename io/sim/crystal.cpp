#include "io/sim/crystal.hpp"

#include <spglib.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <sstream>

#include "core/error.hpp"
#include "io/sim/kirkland.hpp"

namespace cbednet::io::sim {

double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double norm(const Vec3& v) { return std::sqrt(dot(v, v)); }
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
Vec3 mat_vec(const Mat3& m, const Vec3& v) { return {dot(m[0], v), dot(m[1], v), dot(m[2], v)}; }

namespace {
Vec3 column(const Mat3& m, int j) { return {m[0][j], m[1][j], m[2][j]}; }
}  // namespace

Mat3 lattice_basis(const LatticeParameters& p) {
  CBEDNET_REQUIRE(p.a > 0 && p.b > 0 && p.c > 0, InvalidArgument, "lattice: lengths must be positive, got ", p.a, ", ",
                  p.b, ", ", p.c);
  const double deg = std::numbers::pi / 180.0;
  const double ca = std::cos(p.alpha * deg), cb = std::cos(p.beta * deg), cg = std::cos(p.gamma * deg);
  const double sg = std::sin(p.gamma * deg);
  const double cy = (ca - cb * cg) / sg;
  const double cz2 = 1.0 - cb * cb - cy * cy;
  CBEDNET_REQUIRE(sg > 1e-6 && cz2 > 1e-8, InvalidArgument, "lattice: angles ", p.alpha, ", ", p.beta, ", ", p.gamma,
                  " do not form a cell");
  Mat3 m{};
  const Vec3 a{p.a, 0, 0}, b{p.b * cg, p.b * sg, 0}, c{p.c * cb, p.c * cy, p.c * std::sqrt(cz2)};
  for (int i = 0; i < 3; ++i) {
    m[i][0] = a[i];
    m[i][1] = b[i];
    m[i][2] = c[i];
  }
  return m;
}

Mat3 reciprocal_basis(const Mat3& basis) {
  const Vec3 a = column(basis, 0), b = column(basis, 1), c = column(basis, 2);
  const double v = dot(a, cross(b, c));
  CBEDNET_REQUIRE(std::abs(v) > 1e-12, InvalidArgument, "lattice: degenerate cell");
  const Vec3 as = cross(b, c), bs = cross(c, a), cs = cross(a, b);
  Mat3 r{};
  for (int i = 0; i < 3; ++i) {
    r[i][0] = as[i] / v;
    r[i][1] = bs[i] / v;
    r[i][2] = cs[i] / v;
  }
  return r;
}

Vec3 reciprocal_vector(const Mat3& reciprocal, int h, int k, int l) {
  return mat_vec(reciprocal, {static_cast<double>(h), static_cast<double>(k), static_cast<double>(l)});
}

double Crystal::volume() const { return std::abs(dot(column(basis, 0), cross(column(basis, 1), column(basis, 2)))); }

std::string Crystal::formula() const {
  std::map<int, int> counts;
  for (const auto& atom : atoms) ++counts[atom.z];
  std::ostringstream out;
  bool first = true;
  for (const auto& [z, n] : counts) {
    out << (first ? "" : " ") << element_symbol(z) << n;
    first = false;
  }
  return out.str();
}

const SymmetryOperations& symmetry_operations(int hall_number) {
  CBEDNET_REQUIRE(hall_number >= 1 && hall_number <= 530, InvalidArgument, "Hall number ", hall_number,
                  " outside 1..530");
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<SymmetryOperations>> cache;
  const std::lock_guard lock(mutex);
  auto& slot = cache[hall_number];
  if (!slot) {
    int rotations[192][3][3];
    double translations[192][3];
    const int n = spg_get_symmetry_from_database(rotations, translations, hall_number);
    CBEDNET_REQUIRE(n > 0, Error, "spglib: no operations for Hall number ", hall_number);
    auto ops = std::make_unique<SymmetryOperations>();
    for (int i = 0; i < n; ++i) {
      std::array<std::array<int, 3>, 3> w{};
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) w[r][c] = rotations[i][r][c];
      ops->rotations.push_back(w);
      ops->translations.push_back({translations[i][0], translations[i][1], translations[i][2]});
    }
    slot = std::move(ops);
  }
  return *slot;
}

namespace {
double wrap(double x) {
  x -= std::floor(x);
  return x >= 1.0 - 1e-12 ? 0.0 : x;
}
bool same_site(const Vec3& a, const Vec3& b, double tol) {
  for (int i = 0; i < 3; ++i) {
    const double d = a[i] - b[i];
    if (std::abs(d - std::round(d)) > tol) return false;
  }
  return true;
}
}  // namespace

std::vector<Vec3> expand_orbit(const SymmetryOperations& ops, const Vec3& frac, double tol) {
  std::vector<Vec3> sites;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    Vec3 y{};
    for (int r = 0; r < 3; ++r)
      y[r] = wrap(ops.rotations[i][r][0] * frac[0] + ops.rotations[i][r][1] * frac[1] +
                  ops.rotations[i][r][2] * frac[2] + ops.translations[i][r]);
    bool duplicate = false;
    for (const auto& s : sites) duplicate = duplicate || same_site(s, y, tol);
    if (!duplicate) sites.push_back(y);
  }
  return sites;
}

Crystal make_crystal(const LatticeParameters& params, int hall_number, const std::vector<Atom>& asymmetric_unit) {
  Crystal c;
  c.hall_number = hall_number;
  c.params = params;
  c.basis = lattice_basis(params);
  const auto& ops = symmetry_operations(hall_number);
  for (std::size_t i = 0; i < asymmetric_unit.size(); ++i) {
    for (const auto& site : expand_orbit(ops, asymmetric_unit[i].frac)) {
      Atom a = asymmetric_unit[i];
      a.frac = site;
      a.orbit = static_cast<int>(i);
      c.atoms.push_back(a);
    }
  }
  return c;
}

int detect_space_group(const Crystal& crystal, double symprec) {
  const std::size_t n = crystal.atoms.size();
  if (n == 0) return 0;
  double lattice[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) lattice[i][j] = crystal.basis[i][j];
  std::vector<double> positions(3 * n);
  std::vector<int> types(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (int r = 0; r < 3; ++r) positions[3 * i + static_cast<std::size_t>(r)] = crystal.atoms[i].frac[r];
    types[i] = crystal.atoms[i].z;
  }
  // spglib's C API takes the rows of an n x 3 array; a contiguous buffer has that layout.
  auto* rows = reinterpret_cast<double(*)[3]>(positions.data());
  const std::unique_ptr<SpglibDataset, void (*)(SpglibDataset*)> dataset(
      spg_get_dataset(lattice, rows, types.data(), static_cast<int>(n), symprec), spg_free_dataset);
  return dataset ? dataset->spacegroup_number : 0;
}

double periodic_distance(const Mat3& basis, const Vec3& a, const Vec3& b) {
  Vec3 d{};
  for (int i = 0; i < 3; ++i) {
    d[i] = a[i] - b[i];
    d[i] -= std::round(d[i]);
  }
  double best = 1e300;
  for (int i = -1; i <= 1; ++i)
    for (int j = -1; j <= 1; ++j)
      for (int k = -1; k <= 1; ++k) {
        const Vec3 cart = mat_vec(basis, {d[0] + i, d[1] + j, d[2] + k});
        best = std::min(best, dot(cart, cart));
      }
  return std::sqrt(best);
}

}  // namespace cbednet::io::sim
