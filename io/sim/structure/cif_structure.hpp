// Crystal structures read from CIF files (through gemmi's CIF parser): the cell, the symmetry (operator loop, Hall
// symbol, Hermann-Mauguin symbol or International Tables number, in that order of precedence) expanded over the
// asymmetric unit into the full cell, and the space group labelled by what spglib detects on the expanded atoms
// (the CIF's own symbol is only checked against it). Partial occupancies and isotropic displacement parameters are
// kept on each atom. Every refusal is an InvalidArgument naming the file, and the line where the CIF has one.
#pragma once

#include <string>
#include <vector>

#include "io/sim/crystal.hpp"

namespace cbednet::io::sim {

struct CifReadOptions {
  double symprec = 0.01;         // Angstrom: spglib's tolerance when labelling the expanded structure
  double min_distance = 0.5;     // Angstrom: fully occupied atoms closer than this are an error
  double merge_distance = 0.05;  // Angstrom: images of one site closer than this are the same atom
  double default_b_iso = 0.5;    // Angstrom^2: Debye-Waller B of atoms without U_iso / B_iso / U_ij
};

struct CifStructure {
  std::string source;           // the file (or the name given to parse_cif_structure)
  std::string block;            // data block name
  Crystal crystal;              // full cell; space_group and hall_number from spglib
  std::string symmetry_source;  // where the operators came from, e.g. "48 operators of _symmetry_equiv_pos_as_xyz"
  std::string cif_symbol;       // the CIF's H-M (or Hall) symbol, "" when it has none
  int cif_space_group = 0;      // the group number the CIF states or implies, 0 when unknown
  std::string spglib_symbol;    // spglib's international symbol of the expanded structure
  int sites = 0;                // asymmetric-unit sites read
  int sites_without_adp = 0;    // sites given default_b_iso
  bool partial_occupancy = false;
  // e.g. the group the CIF states (other than P1, which asserts nothing) differs from spglib's (each names the file)
  std::vector<std::string> warnings;
};

// Parses CIF text; `source` names it in messages. Throws InvalidArgument (malformed CIF, no symmetry, unknown
// element, zero or negative cell, occupancy outside (0, 1], atoms closer than min_distance, spglib failure).
CifStructure parse_cif_structure(const std::string& text, const std::string& source,
                                 const CifReadOptions& options = {});
// Reads and parses a file; an unreadable file is an InvalidArgument naming it.
CifStructure read_cif_structure(const std::string& path, const CifReadOptions& options = {});

// The CIF files of `path`: the file itself, or the *.cif files (any case) directly in a directory, sorted by name.
// Throws InvalidArgument when the path does not exist or the directory has no CIF file.
std::vector<std::string> list_cif_files(const std::string& path);

}  // namespace cbednet::io::sim
