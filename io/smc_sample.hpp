// One sample of the ORNL SMC Data Challenge 2019 CBED layout, as read from or written to a file.
// See docs/data-format.md for the on-disk layout (root group `sample_<i>_<k>` per sample).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cbednet::io {

struct SmcSample {
  std::string group_name;         // "sample_<i>_<k>"
  int space_group = 0;            // 1..230 (attribute `space_group`, a string in the file)
  int size = 512;                 // S: each projection is S x S pixels
  std::vector<float> cbed_stack;  // [3, S, S] row-major (dataset `cbed_stack`)

  // Optional attributes: read when present, never required (the float ones are unreliable in the real release).
  std::optional<std::string> material;  // e.g. "mp-1234"
  std::optional<std::string> formula;   // variable-length UTF-8
  std::optional<std::int64_t> energy_keV;
  std::optional<std::array<double, 9>> z_dirs;  // (1, 3, 3): the three projection directions
  std::optional<std::array<double, 3>> semi_angles_rad;
  std::optional<std::array<double, 3>> d_hkls_angstrom;
  std::optional<std::array<double, 3>> abc_angstrom;
  std::optional<std::array<double, 3>> angles_degree;
};

}  // namespace cbednet::io
