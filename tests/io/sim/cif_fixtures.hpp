// CIF texts of known structures for the structure-reader tests, each using a different way of stating symmetry.
// Cells and coordinates as published (ICSD / Materials Project values rounded to 4 digits).
#pragma once

#include <string>

namespace cbednet::io::sim::testing {

inline std::string cif_cell(double a, double b, double c, double alpha, double beta, double gamma) {
  return "_cell_length_a " + std::to_string(a) + "\n_cell_length_b " + std::to_string(b) + "\n_cell_length_c " +
         std::to_string(c) + "\n_cell_angle_alpha " + std::to_string(alpha) + "\n_cell_angle_beta " +
         std::to_string(beta) + "\n_cell_angle_gamma " + std::to_string(gamma) + "\n";
}

inline const std::string atom_loop_header =
    "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n";

// Si, Fd-3m by H-M symbol (origin choice 1): 8 atoms.
inline std::string silicon_cif() {
  return "data_Si\n" + cif_cell(5.431, 5.431, 5.431, 90, 90, 90) + "_symmetry_space_group_name_H-M 'F d -3 m'\n" +
         atom_loop_header + "Si1 Si 0 0 0\n";
}

// GaAs zinc blende, F-43m by H-M symbol: 8 atoms.
inline std::string gallium_arsenide_cif() {
  return "data_GaAs\n" + cif_cell(5.6533, 5.6533, 5.6533, 90, 90, 90) +
         "_space_group_name_H-M_alt 'F -4 3 m'\n_space_group_IT_number 216\n" + atom_loop_header +
         "Ga1 Ga 0 0 0\nAs1 As 0.25 0.25 0.25\n";
}

// NaCl rock salt by Hall symbol, with charges on the type symbols and U_iso: 8 atoms.
inline std::string rock_salt_cif() {
  return "data_NaCl\n" + cif_cell(5.6402, 5.6402, 5.6402, 90, 90, 90) +
         "_symmetry_space_group_name_Hall '-F 4 2 3'\n"
         "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
         "_atom_site_fract_z\n_atom_site_U_iso_or_equiv\nNa1 Na+ 0 0 0 0.0150(3)\nCl1 Cl- 0.5 0.5 0.5 0.0120\n";
}

// Rutile TiO2, P4_2/mnm by International Tables number only: 6 atoms.
inline std::string rutile_cif() {
  return "data_TiO2\n" + cif_cell(4.5937, 4.5937, 2.9587, 90, 90, 90) + "_symmetry_Int_Tables_number 136\n" +
         atom_loop_header + "Ti1 Ti 0 0 0\nO1 O 0.3048 0.3048 0\n";
}

// Wurtzite ZnO, P6_3mc by its operator loop (as Materials Project writes it), coordinates to 4 digits: 4 atoms.
inline std::string wurtzite_cif() {
  return "data_ZnO\n" + cif_cell(3.2495, 3.2495, 5.2069, 90, 90, 120) +
         "_symmetry_space_group_name_H-M 'P 63 m c'\n"
         "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n'-y, x-y, z'\n'-x+y, -x, z'\n'-x, -y, z+1/2'\n"
         "'y, -x+y, z+1/2'\n'x-y, x, z+1/2'\n'-y, -x, z'\n'-x+y, y, z'\n'x, x-y, z'\n'y, x, z+1/2'\n"
         "'x-y, -y, z+1/2'\n'-x, -x+y, z+1/2'\n" +
         atom_loop_header + "Zn1 Zn 0.3333 0.6667 0\nO1 O 0.3333 0.6667 0.3819\n";
}

// Baddeleyite ZrO2 (monoclinic, P2_1/c, unique axis b): 12 atoms.
inline std::string baddeleyite_cif() {
  return "data_ZrO2\n" + cif_cell(5.1505, 5.2116, 5.3173, 90, 99.23, 90) +
         "_symmetry_space_group_name_H-M 'P 1 21/c 1'\n" + atom_loop_header +
         "Zr1 Zr 0.2754 0.0395 0.2083\nO1 O 0.0700 0.3317 0.3447\nO2 O 0.4496 0.7569 0.4792\n";
}

// A triclinic P-1 cell with two general sites: 4 atoms.
inline std::string triclinic_cif() {
  return "data_triclinic\n" + cif_cell(5.0, 6.0, 7.0, 80, 85, 75) + "_symmetry_space_group_name_H-M 'P -1'\n" +
         atom_loop_header + "Na1 Na 0.1 0.2 0.3\nCl1 Cl 0.35 0.4 0.15\n";
}

// Disordered Cu0.5Au0.5 on an fcc lattice (Fm-3m), two species sharing one site: 8 atoms on 4 sites.
inline std::string disordered_cuau_cif(double cu_occupancy = 0.5, double au_occupancy = 0.5) {
  return "data_CuAu\n" + cif_cell(3.87, 3.87, 3.87, 90, 90, 90) + "_symmetry_space_group_name_H-M 'F m -3 m'\n" +
         "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
         "_atom_site_fract_z\n_atom_site_occupancy\n_atom_site_B_iso_or_equiv\n" +
         "Cu1 Cu 0 0 0 " + std::to_string(cu_occupancy) + " 0.6\nAu1 Au 0 0 0 " + std::to_string(au_occupancy) +
         " 0.6\n";
}

}  // namespace cbednet::io::sim::testing
