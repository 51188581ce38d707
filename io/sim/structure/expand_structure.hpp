// From an asymmetric unit to the full cell: symmetry images of each site (merged when they coincide), the
// physical checks of the result (no two atoms impossibly close, no site more than fully occupied) and spglib's
// label of it. Partial occupancies are honoured: atoms sharing a site are one spglib site typed by its content.
#pragma once

#include <string>
#include <vector>

#include "io/sim/crystal.hpp"

namespace cbednet::io::sim {

struct StructureSite {
  std::string label;
  int z = 0;
  Vec3 frac{};
  double occupancy = 1.0;
  double b_iso = 0;
  int line = 0;  // where the CIF lists it (0: unknown), for messages
};

// Atom orbit i comes from sites[i]; images closer than merge_distance (Angstrom) are one atom.
Crystal expand_sites(const LatticeParameters& params, const SymmetryOperations& ops,
                     const std::vector<StructureSite>& sites, double merge_distance);

// The first physical problem of an expanded cell as a sentence: two atoms closer than min_distance
// (Angstrom) whose occupancies add up to more than 1 (disorder alternatives may be close), or a site whose
// occupancies add up to more than 1. Labels are taken from sites[atom.orbit].
struct PhysicalProblem {
  std::string text;  // "" when none
  int site = -1;     // the first site involved
};
PhysicalProblem physical_problem(const Crystal& crystal, const std::vector<StructureSite>& sites, double min_distance,
                                 double same_site_distance);

struct SpglibLabel {
  int number = 0;  // 0: spglib found no symmetry (its error text in `error`)
  int hall_number = 0;
  std::string symbol;  // international short symbol, e.g. "Fd-3m"
  std::string error;
};
// Atoms within same_site_distance of each other form one spglib site, typed by its (element, occupancy) content.
SpglibLabel label_with_spglib(const Crystal& crystal, double symprec, double same_site_distance);

}  // namespace cbednet::io::sim
