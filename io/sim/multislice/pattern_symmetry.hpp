// The point symmetry of a zone-axis CBED pattern, measured on its discs (cbed-physics.md section 2.1): the lattice
// of the discs (transverse parts g_t of the reciprocal lattice vectors), the point operations of that lattice
// (rotations by 360/n about the pattern centre and mirrors, found from the crystal's lattice, not from pixels), a
// commensurate rectangular simulation cell, and the residual ||I - I o R|| / ||I|| of a pattern under one
// operation R, computed disc by disc.
//
// Exactness: an operation is applied to the reciprocal lattice vectors (disc g -> disc R g) and to the pixel offsets
// K inside a disc (pixel g + K -> pixel R g + R K). Only offsets K that every operation maps onto a pixel are used,
// so no interpolation enters: on a square pixel grid that is every offset for 90-degree rotations and the axis and
// diagonal mirrors; on a rectangular grid whose pixel sides are in the ratio sqrt(3) (an orthohexagonal cell of
// n x n rectangles) it is the pixels with an even index sum, a hexagonal sublattice that the 6-fold rotation and
// the hexagonal mirrors map onto itself. With discs that do not overlap, a periodic crystal couples an incident
// direction K only to K + g, so each pixel holds |T_g(K)|^2 alone and the pattern does not depend on the probe
// position; an operation of the specimen then holds pixel for pixel.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "io/sim/crystal.hpp"
#include "io/sim/multislice/settings.hpp"
#include "io/sim/projections.hpp"

namespace cbednet::io::sim::multislice {

using Vec2 = std::array<double, 2>;  // detector components (along the projection's ex, ey)

// The crystal's lattice vectors perpendicular to the beam (a 2-D lattice; centring translations included, found
// from the atoms) and its dual, the lattice of the disc centres g_t on the detector: every g_t of the crystal's
// reciprocal lattice is i reciprocal[0] + j reciprocal[1].
struct ProjectedLattice {
  std::array<Vec3, 2> direct_frac{};  // reduced basis of the lattice vectors normal to the beam, cell fractions
  std::array<Vec2, 2> direct{};       // the same vectors on the detector, Angstrom
  std::array<Vec2, 2> reciprocal{};   // dual basis, 1/Angstrom: reciprocal[i] . direct[j] = delta_ij
};

// The crystal's translations within one cell (0 and the centring vectors, cell fractions): the differences of
// atom positions that map every atom onto an atom of the same element and occupancy.
std::vector<Vec3> lattice_translations(const Crystal& crystal);

// Throws InvalidArgument when fewer than two independent lattice vectors with |u|, |v|, |w| <= max_index are
// normal to the beam (the beam is then not the normal of a lattice plane, and no periodic simulation cell exists).
ProjectedLattice projected_lattice(const Crystal& crystal, const Projection& projection, int max_index = 6);

// The rectangular cell of repeats[0] shortest lattice vectors along ex by repeats[1] along ey (so the crystal is
// periodic in it, without a seam), on the smallest grid whose real-space pixels are at most max_pixel and that cuts
// each lattice period into a multiple of `divisions` pixels (even), so that the in-plane translations of screw axes
// and glide planes (halves and quarters of a period with the default 4; 12 adds thirds and sixths) map the grid
// onto itself. Throws InvalidArgument when the lattice has no vector along ex or ey (an oblique projected lattice).
GridGeometry commensurate_grid(const Crystal& crystal, const Projection& projection, const std::array<int, 2>& repeats,
                               double max_pixel, int divisions = 4, double band_limit = 2.0 / 3.0);

// A point operation of the detector plane about the pattern centre: q -> m q (m row-major 2 x 2).
struct PlaneOperation {
  std::string name;  // "2", "3", "4", "6" (rotation by 360/n), "m[uvw]" (mirror line along the direction [uvw])
  std::array<double, 4> m{};
  Vec2 apply(const Vec2& q) const { return {m[0] * q[0] + m[1] * q[1], m[2] * q[0] + m[3] * q[1]}; }
};

PlaneOperation rotation_operation(int n);  // counter-clockwise by 360/n degrees (detector axes ex, ey)
PlaneOperation mirror_operation(const Vec2& line, const std::string& name);

// The point group of the projected lattice (its holohedry: 2, 2mm, 4mm, 6mm, ...): the rotations by 360/n
// (n = 2, 3, 4, 6) and the mirrors that map the disc lattice onto itself; a mirror is named by the shortest direct
// lattice direction [uvw] along its line. These are the only operations a pattern can be tested for: any other
// one does not even map the disc positions onto disc positions.
std::vector<PlaneOperation> lattice_operations(const ProjectedLattice& lattice);

// The shortest non-zero g_t of the lattice (1/A): discs of radius below half of it do not overlap.
double shortest_g(const ProjectedLattice& lattice);

struct SymmetryResidual {
  double disc = 0;   // sqrt(sum_g (D_g - D_Rg)^2 / sum_g D_g^2), D_g the intensity summed over disc g
  double pixel = 0;  // the same over the pixels of the discs: sqrt(sum (I(q) - I(Rq))^2 / sum I(q)^2)
};

// The discs of a pattern on one grid: every dark-field disc of radius `radius` (1/A) lying wholly inside the
// band (or inside |k| <= field when field > 0 is given, e.g. to leave out the higher-order Laue zones), and the pixel
// offsets inside a disc that all of `operations` map onto pixels. The bright-field disc is left out: it maps onto
// itself under every operation, so its integrated intensity says nothing, and its inside has the higher symmetry of the
// bright-field pattern (BP). Throws InvalidArgument when the grid is not commensurate with the lattice, when discs
// overlap (2 radius >= the shortest g_t: the pattern would depend on the probe position), or when an operation does not
// map the lattice, or the kept offsets, onto themselves.
class DiscSymmetry {
 public:
  DiscSymmetry(const GridGeometry& grid, const ProjectedLattice& lattice, double radius,
               std::vector<PlaneOperation> operations, double field = 0);

  std::size_t discs() const { return centres_.size(); }
  std::size_t offsets() const { return offsets_.size(); }  // pixels summed per disc
  const std::vector<PlaneOperation>& operations() const { return operations_; }
  // Intensity summed over each disc (pattern [ny, nx], zero frequency at row ny/2, column nx/2).
  std::vector<double> disc_intensities(const float* pattern) const;
  // Residual of the pattern under operations()[op].
  SymmetryResidual residual(const float* pattern, std::size_t op) const;
  SymmetryResidual residual(const float* pattern, const std::string& name) const;

 private:
  std::map<std::array<long, 2>, std::size_t> select_offsets(double radius);
  std::map<std::array<long, 2>, std::size_t> select_discs(const ProjectedLattice& lattice, double radius, double k_max);
  std::size_t pixel(std::size_t disc, std::size_t offset) const;

  GridGeometry grid_;
  std::vector<PlaneOperation> operations_;
  std::vector<std::array<long, 2>> centres_;            // disc centres, pixel offsets (column, row) from the origin
  std::vector<std::array<long, 2>> offsets_;            // pixel offsets (column, row) inside a disc
  std::vector<std::vector<std::size_t>> disc_image_;    // [op][disc] -> disc
  std::vector<std::vector<std::size_t>> offset_image_;  // [op][offset] -> offset
};

}  // namespace cbednet::io::sim::multislice
