#include "io/sim/space_group_table.hpp"

#include <spglib.h>

#include <array>
#include <string_view>

#include "core/error.hpp"

namespace cbednet::io::sim {
namespace {

constexpr std::array<const char*, 7> system_names = {"triclinic", "monoclinic", "orthorhombic", "tetragonal",
                                                     "trigonal",  "hexagonal",  "cubic"};

constexpr std::array<const char*, 32> point_group_names = {
    "1",  "-1", "2",  "m",   "2/m", "222", "mm2", "mmm", "4",   "-4",   "4/m",   "422", "4mm", "-42m", "4/mmm", "3",
    "-3", "32", "3m", "-3m", "6",   "-6",  "6/m", "622", "6mm", "-6m2", "6/mmm", "23",  "m-3", "432",  "-43m",  "m-3m"};

// Crystal systems are contiguous ranges of space-group numbers (ITA).
int system_of(int number) {
  if (number <= 2) return 0;
  if (number <= 15) return 1;
  if (number <= 74) return 2;
  if (number <= 142) return 3;
  if (number <= 167) return 4;
  if (number <= 194) return 5;
  return 6;
}

std::string trim(const char* text) {
  std::string s(text);
  const auto last = s.find_last_not_of(' ');
  s.erase(last == std::string::npos ? 0 : last + 1);
  const auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first);
}

struct Table {
  std::array<SpaceGroupInfo, 230> info;
  std::array<int, 230> point_group;
};

Table build() {
  Table t{};
  // Hall numbers run in space-group order, so the first Hall number seen for a type is its default setting.
  for (int hall = 1; hall <= 530; ++hall) {
    const SpglibSpacegroupType type = spg_get_spacegroup_type(hall);
    CBEDNET_REQUIRE(type.number >= 1 && type.number <= 230, Error, "spglib: no space-group type for Hall number ",
                    hall);
    SpaceGroupInfo& info = t.info[static_cast<std::size_t>(type.number - 1)];
    if (info.number != 0) continue;
    info.number = type.number;
    info.symbol = trim(type.international_short);
    info.point_group = trim(type.pointgroup_international);
    info.crystal_system = system_names[static_cast<std::size_t>(system_of(type.number))];
    info.hall_number = hall;
    int index = -1;
    for (std::size_t i = 0; i < point_group_names.size(); ++i)
      if (info.point_group == point_group_names[i]) index = static_cast<int>(i);
    // spglib writes -62m for the hexagonal bar-6 group in some versions and -6m2 in others.
    if (index < 0 && info.point_group == "-62m") index = 25;
    CBEDNET_REQUIRE(index >= 0, Error, "spglib: unknown point group '", info.point_group, "' of space group ",
                    type.number);
    t.point_group[static_cast<std::size_t>(type.number - 1)] = index;
  }
  for (const auto& info : t.info) CBEDNET_ASSERT(info.number != 0);
  return t;
}

const Table& table() {
  static const Table t = build();  // thread-safe initialisation
  return t;
}

void check_number(int number) {
  CBEDNET_REQUIRE(number >= 1 && number <= 230, InvalidArgument, "space group ", number, " outside 1..230");
}

}  // namespace

const SpaceGroupInfo& space_group_info(int number) {
  check_number(number);
  return table().info[static_cast<std::size_t>(number - 1)];
}

int crystal_system_index(int number) {
  check_number(number);
  return system_of(number);
}

const char* crystal_system_name(int index) {
  CBEDNET_REQUIRE(index >= 0 && index < 7, InvalidArgument, "crystal system index ", index, " outside 0..6");
  return system_names[static_cast<std::size_t>(index)];
}

int point_group_index(int number) {
  check_number(number);
  return table().point_group[static_cast<std::size_t>(number - 1)];
}

const char* point_group_name(int index) {
  CBEDNET_REQUIRE(index >= 0 && index < 32, InvalidArgument, "point group index ", index, " outside 0..31");
  return point_group_names[static_cast<std::size_t>(index)];
}

}  // namespace cbednet::io::sim
