// Electron scattering factors of neutral atoms, Kirkland (2010) parameterisation:
//   f_e(q) = sum_i a_i / (q^2 + b_i) + sum_i c_i exp(-d_i q^2),   i = 1..3,
// with q = |g| = 1/d in 1/Angstrom and f_e in Angstrom (non-relativistic; multiply by gamma for the beam).
// Source: E. J. Kirkland, Advanced Computing in Electron Microscopy, 2nd ed. (Springer, 2010), App. C; the
// table is compiled in from io/sim/data/kirkland-electron-scattering.json (see io/sim/CMakeLists.txt).
#pragma once

#include <string>

namespace cbednet::io::sim {

constexpr int max_atomic_number = 103;

struct KirklandEntry {
  const char* symbol;
  double p[12];  // a1 a2 a3, b1 b2 b3, c1 c2 c3, d1 d2 d3
};

namespace detail {
extern const KirklandEntry kirkland_entries[max_atomic_number];
}

// Parameters of element Z (1..103); throws InvalidArgument otherwise.
const KirklandEntry& kirkland_entry(int z);
// Element symbol ("Si") of Z, and Z of a symbol; both throw InvalidArgument for unknown input.
const char* element_symbol(int z);
int atomic_number(const std::string& symbol);

// f_e(q) in Angstrom for element Z at q = |g| (1/Angstrom).
double electron_scattering_factor(int z, double q);

}  // namespace cbednet::io::sim
