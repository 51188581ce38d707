// Reference crystals for the simulator tests (cbed-physics.md section 6).
#pragma once

#include "io/sim/crystal.hpp"

namespace cbednet::io::sim::testing {

// Si, Fd-3m origin choice 1 (Hall 525): 8a at (0, 0, 0), a = 5.431 A.
inline Crystal silicon(double b_iso = 0.0) {
  Crystal c = make_crystal({5.431, 5.431, 5.431, 90, 90, 90}, 525, {Atom{14, {0, 0, 0}, b_iso, 0}});
  c.space_group = 227;
  return c;
}

// Al, Fm-3m (Hall 523): 4a at (0, 0, 0), a = 4.0495 A.
inline Crystal aluminium() {
  Crystal c = make_crystal({4.0495, 4.0495, 4.0495, 90, 90, 90}, 523, {Atom{13, {0, 0, 0}, 0.0, 0}});
  c.space_group = 225;
  return c;
}

}  // namespace cbednet::io::sim::testing
