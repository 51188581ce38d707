// The specimen of a multislice run: the crystal cut into an lx x ly x thickness box whose z axis is the beam of a
// projection, its atoms displaced for one frozen-phonon configuration and sorted into slices.
//
// Box coordinates: x along the projection's detector axis ex, y along ey, z along the beam, with the crystal's
// origin at (lx/2, ly/2, 0). The lateral boundary is periodic for the waves; unless lx and ly are multiples of the
// projected lattice, the crystal has a seam there (as in NAMSA's supercells), which the probe, kept inside the cell
// by check_sampling, does not reach.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.hpp"
#include "io/sim/crystal.hpp"
#include "io/sim/projections.hpp"

namespace cbednet::io::sim::multislice {

struct SpecimenAtom {
  int z = 0;         // atomic number
  double b_iso = 0;  // Debye-Waller B, Angstrom^2 (used for damping when there are no frozen phonons)
  double x = 0, y = 0;
  double occupancy = 1.0;  // the potential is weighted by it (average-crystal approximation)
};

struct Slice {
  double thickness = 0;  // Angstrom
  std::vector<SpecimenAtom> atoms;
};

struct SpecimenBox {
  double lx = 0, ly = 0;
  double thickness = 0;
  double slice_thickness = 0;  // the last slice takes the remainder
};

// Where the frozen-phonon displacements come from: atom a (in the box's deterministic enumeration order) of
// configuration c moves by sqrt(B / (8 pi^2)) * N(0, 1) along each Cartesian axis, the normals drawn from `stream`
// at coordinates (base + c, 3 a + axis). No displacements when `displace` is false.
struct PhononDraw {
  const RandomStream* stream = nullptr;
  std::uint64_t base = 0;
  std::uint64_t configuration = 0;
  bool displace = false;
};

std::vector<Slice> build_slices(const Crystal& crystal, const Projection& projection, const SpecimenBox& box,
                                const PhononDraw& phonons);

}  // namespace cbednet::io::sim::multislice
