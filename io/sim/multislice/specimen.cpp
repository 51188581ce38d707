#include "io/sim/multislice/specimen.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/error.hpp"

namespace cbednet::io::sim::multislice {
namespace {

Mat3 inverse(const Mat3& m) {
  const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  CBEDNET_REQUIRE(std::abs(det) > 1e-12, InvalidArgument, "specimen: singular lattice basis");
  Mat3 r{};
  r[0][0] = (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det;
  r[0][1] = (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det;
  r[0][2] = (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det;
  r[1][0] = (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det;
  r[1][1] = (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det;
  r[1][2] = (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det;
  r[2][0] = (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det;
  r[2][1] = (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det;
  r[2][2] = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det;
  return r;
}

double wrap(double v, double period) {
  const double w = std::fmod(v, period);
  return w < 0 ? w + period : w;
}

}  // namespace

std::vector<Slice> build_slices(const Crystal& crystal, const Projection& projection, const SpecimenBox& box,
                                const PhononDraw& phonons) {
  CBEDNET_REQUIRE(box.lx > 0 && box.ly > 0 && box.thickness > 0 && box.slice_thickness > 0, InvalidArgument,
                  "specimen: box ", box.lx, " x ", box.ly, " x ", box.thickness, " A with slices of ",
                  box.slice_thickness, " A");
  CBEDNET_REQUIRE(!phonons.displace || phonons.stream != nullptr, InvalidArgument,
                  "specimen: frozen phonons need a random stream");
  const auto n_slices = static_cast<std::size_t>(std::max(1.0, std::ceil(box.thickness / box.slice_thickness - 1e-9)));
  std::vector<Slice> slices(n_slices);
  for (std::size_t s = 0; s < n_slices; ++s)
    slices[s].thickness = s + 1 < n_slices ? box.slice_thickness
                                           : box.thickness - static_cast<double>(n_slices - 1) * box.slice_thickness;

  // Fractional index range of the cells that meet the box: its corners in crystal coordinates.
  const Mat3 to_frac = inverse(crystal.basis);
  std::array<double, 3> lo{}, hi{};
  lo.fill(std::numeric_limits<double>::max());
  hi.fill(std::numeric_limits<double>::lowest());
  for (int corner = 0; corner < 8; ++corner) {
    const double x = ((corner & 1) ? box.lx : 0.0) - box.lx / 2;
    const double y = ((corner & 2) ? box.ly : 0.0) - box.ly / 2;
    const double z = (corner & 4) ? box.thickness : 0.0;
    Vec3 r{};
    for (int i = 0; i < 3; ++i) r[i] = x * projection.ex[i] + y * projection.ey[i] + z * projection.beam[i];
    const Vec3 f = mat_vec(to_frac, r);
    for (int i = 0; i < 3; ++i) {
      lo[i] = std::min(lo[i], f[i]);
      hi[i] = std::max(hi[i], f[i]);
    }
  }
  constexpr double edge = 1e-7;          // Angstrom: half-open box [0, L) robust to rounding on commensurate cells
  constexpr double slice_margin = 1e-6;  // Angstrom
  const double scale = 1.0 / (8.0 * std::numbers::pi * std::numbers::pi);
  std::uint64_t ordinal = 0;
  for (auto n0 = static_cast<long>(std::floor(lo[0])) - 1; n0 <= static_cast<long>(std::ceil(hi[0])); ++n0)
    for (auto n1 = static_cast<long>(std::floor(lo[1])) - 1; n1 <= static_cast<long>(std::ceil(hi[1])); ++n1)
      for (auto n2 = static_cast<long>(std::floor(lo[2])) - 1; n2 <= static_cast<long>(std::ceil(hi[2])); ++n2)
        for (const auto& atom : crystal.atoms) {
          const Vec3 f{atom.frac[0] + n0, atom.frac[1] + n1, atom.frac[2] + n2};
          const Vec3 r = mat_vec(crystal.basis, f);
          double x = dot(r, projection.ex) + box.lx / 2, y = dot(r, projection.ey) + box.ly / 2;
          double z = dot(r, projection.beam);
          if (x < -edge || x >= box.lx - edge || y < -edge || y >= box.ly - edge || z < -edge ||
              z >= box.thickness - edge)
            continue;
          if (phonons.displace && atom.b_iso > 0) {
            const double u = std::sqrt(atom.b_iso * scale);
            const std::uint64_t a = phonons.base + phonons.configuration;
            Vec3 d{};
            for (std::uint64_t axis = 0; axis < 3; ++axis) d[axis] = u * phonons.stream->normal(a, 3 * ordinal + axis);
            x += dot(d, projection.ex);
            y += dot(d, projection.ey);
            z += dot(d, projection.beam);
          }
          ++ordinal;
          // Lattice planes often lie exactly on slice boundaries (slices of d_hkl along g_hkl): the margin puts a
          // whole plane in one slice whatever the rounding of each atom's z.
          const auto s = static_cast<std::size_t>(
              std::clamp(std::floor((z + slice_margin) / box.slice_thickness), 0.0, static_cast<double>(n_slices - 1)));
          slices[s].atoms.push_back({atom.z, atom.b_iso, wrap(x, box.lx), wrap(y, box.ly), atom.occupancy});
        }
  return slices;
}

}  // namespace cbednet::io::sim::multislice
