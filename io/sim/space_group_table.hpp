// The 230 space-group types: Hermann-Mauguin symbol, point group, crystal system and the Hall number (spglib's
// serial 1..530) of the default setting used to build crystals. Built once from spglib's database.
#pragma once

#include <string>

namespace cbednet::io::sim {

struct SpaceGroupInfo {
  int number = 0;              // 1..230
  std::string symbol;          // Hermann-Mauguin short symbol, e.g. "Fd-3m"
  std::string point_group;     // international symbol of the point group, e.g. "m-3m"
  std::string crystal_system;  // "triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal",
                               // "hexagonal", "cubic"
  int hall_number = 0;         // spglib's first (default) Hall number of the type: origin choice 1,
                               // unique axis b, hexagonal axes for R groups
};

// Throws InvalidArgument outside 1..230.
const SpaceGroupInfo& space_group_info(int number);

// 0..6 in the order of crystal_system_name (triclinic .. cubic). Throws InvalidArgument outside 1..230.
int crystal_system_index(int number);
const char* crystal_system_name(int index);  // index 0..6

// 0..31: the 32 crystallographic point groups in the order of ITA (1, -1, 2, m, 2/m, 222, mm2, mmm, 4, -4,
// 4/m, 422, 4mm, -42m, 4/mmm, 3, -3, 32, 3m, -3m, 6, -6, 6/m, 622, 6mm, -62m, 6/mmm, 23, m-3, 432, -43m, m-3m).
// Throws InvalidArgument outside 1..230.
int point_group_index(int number);
const char* point_group_name(int index);  // index 0..31

}  // namespace cbednet::io::sim
