// A crystal: lattice (conventional cell of its space group's default Hall setting) and atoms in fractional
// coordinates, plus the spglib operations and the round-trip check used to label it.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace cbednet::io::sim {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<std::array<double, 3>, 3>;  // m[i][j]: row i, column j

struct LatticeParameters {
  double a = 0, b = 0, c = 0;                // Angstrom
  double alpha = 90, beta = 90, gamma = 90;  // degrees
};

struct Atom {
  int z = 0;               // atomic number
  Vec3 frac{};             // fractional coordinates in [0, 1)
  double b_iso = 0;        // Debye-Waller B = 8 pi^2 <u^2>, Angstrom^2
  int orbit = 0;           // index of the Wyckoff orbit it was generated from
  double occupancy = 1.0;  // site occupancy (0, 1]: scattering is weighted by it (average-crystal approximation)
};

struct Crystal {
  int space_group = 0;  // the label: spglib-detected type, equal to the intended one
  int hall_number = 0;
  LatticeParameters params;
  Mat3 basis{};  // columns are a, b, c in Cartesian Angstrom (spglib's C convention): basis[i][j] = (vector j)_i
  std::vector<Atom> atoms;

  double volume() const;
  std::string formula() const;  // cell content, elements by atomic number: "O8 Fe4"
};

// Cartesian basis with a along x and b in the xy plane (cbed-physics.md section 1.2).
// Throws InvalidArgument for non-positive lengths or angles that do not form a cell.
Mat3 lattice_basis(const LatticeParameters& p);
// Crystallographic reciprocal basis (no 2 pi), columns a*, b*, c*.
Mat3 reciprocal_basis(const Mat3& basis);
Vec3 mat_vec(const Mat3& m, const Vec3& v);
Vec3 reciprocal_vector(const Mat3& reciprocal, int h, int k, int l);  // g = h a* + k b* + l c*
double norm(const Vec3& v);
double dot(const Vec3& a, const Vec3& b);
Vec3 cross(const Vec3& a, const Vec3& b);

// Space-group operations x' = W x + w (fractional, centring translations included) of a Hall number 1..530.
struct SymmetryOperations {
  std::vector<std::array<std::array<int, 3>, 3>> rotations;
  std::vector<Vec3> translations;
  std::size_t size() const { return rotations.size(); }
};
const SymmetryOperations& symmetry_operations(int hall_number);  // cached, thread-safe

// Applies every operation to `frac`, reduces mod 1 and removes duplicates (periodic tolerance `tol`, fractional).
std::vector<Vec3> expand_orbit(const SymmetryOperations& ops, const Vec3& frac, double tol = 1e-4);

// Builds the cell from an asymmetric unit: entry i is expanded by the operations of `hall_number` into orbit i.
Crystal make_crystal(const LatticeParameters& params, int hall_number, const std::vector<Atom>& asymmetric_unit);

// Space-group number (1..230) spglib detects with tolerance `symprec` (Angstrom); 0 when spglib fails.
int detect_space_group(const Crystal& crystal, double symprec);

// Shortest periodic distance (Angstrom) between two fractional positions.
double periodic_distance(const Mat3& basis, const Vec3& a, const Vec3& b);

}  // namespace cbednet::io::sim
