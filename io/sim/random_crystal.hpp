// Random crystals of a requested space group, labelled by what spglib detects (redrawn until it is the
// requested group, so symmetry gained by chance never mislabels a sample).
#pragma once

#include <cstdint>

#include "core/rng.hpp"
#include "io/sim/crystal.hpp"

namespace cbednet::io::sim {

struct RandomCrystalOptions {
  double symprec = 0.1;       // Angstrom; spglib's check, loose so pseudo-symmetric cells are rejected too
  double min_distance = 1.0;  // Angstrom between any two atoms
  int max_atoms = 96;         // conventional cell; up to 1.5 general orbits after max_attempts / 8
  int max_attempts = 400;     // whole-crystal redraws before giving up
};

// Draws a crystal of `space_group` (1..230) from the stream (draws addressed as (attempt, counter)), so the
// result is a pure function of the stream's key. Throws Error naming the group when no attempt succeeds.
// `attempts_used`, when given, receives the number of whole-crystal draws it took.
Crystal random_crystal(int space_group, const RandomStream& stream, const RandomCrystalOptions& options = {},
                       int* attempts_used = nullptr);

}  // namespace cbednet::io::sim
