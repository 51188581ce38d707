#include "io/sim/kirkland.hpp"

#include <cmath>

#include "core/error.hpp"

namespace cbednet::io::sim {

const KirklandEntry& kirkland_entry(int z) {
  CBEDNET_REQUIRE(z >= 1 && z <= max_atomic_number, InvalidArgument, "Kirkland table: atomic number ", z,
                  " outside 1..", max_atomic_number);
  return detail::kirkland_entries[z - 1];
}

const char* element_symbol(int z) { return kirkland_entry(z).symbol; }

int atomic_number(const std::string& symbol) {
  for (int z = 1; z <= max_atomic_number; ++z)
    if (symbol == detail::kirkland_entries[z - 1].symbol) return z;
  throw_error<InvalidArgument>("Kirkland table: unknown element symbol '", symbol, "'");
}

double electron_scattering_factor(int z, double q) {
  const double* p = kirkland_entry(z).p;
  const double q2 = q * q;
  double f = 0.0;
  for (int i = 0; i < 3; ++i) f += p[i] / (q2 + p[3 + i]) + p[6 + i] * std::exp(-p[9 + i] * q2);
  return f;
}

}  // namespace cbednet::io::sim
