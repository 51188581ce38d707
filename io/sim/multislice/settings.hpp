// Settings of the multislice simulator and the sampling rules it checks before any work
// (cbed-physics.md section 3.2): a grid or cell that cannot represent the requested pattern is an error naming the
// option, never an aliased pattern.
#pragma once

#include <array>
#include <vector>

namespace cbednet::io::sim::multislice {

enum class EngineKind { cpu, cuda };

struct MultisliceSettings {
  int grid = 512;                // N: the N x N wave and pattern (the pattern size S)
  double cell = 100.0;           // L: lateral supercell edge, Angstrom (pixel 1/L in the pattern)
  double thickness = 100.0;      // specimen thickness along the beam, Angstrom
  double slice_thickness = 0.0;  // Angstrom; 0: the d-spacing of the projection's reflection (SMC's choice)
  int probe_grid = 8;            // n x n probe positions, averaged
  double probe_window = 5.0;     // side of the square of probe positions at the cell centre, Angstrom
  // Centre of the probe positions as fractions of the cell (the crystal's origin lies at 0.5, 0.5).
  std::array<double, 2> probe_centre{0.5, 0.5};
  int phonon_configurations = 1;  // frozen-phonon configurations averaged; 0: static lattice, Debye-Waller damped
  double band_limit = 2.0 / 3.0;  // fraction of the Nyquist frequency kept (Kirkland's 2/3 rule)
  double defocus = 0.0;           // Angstrom, positive = underfocus (Kirkland's chi sign)
  double cs_mm = 0.0;             // spherical aberration C3, mm
  int threads = 1;                // threads of one engine (probe positions in parallel)
  EngineKind engine = EngineKind::cpu;
  int device = 0;  // CUDA engine: device index (modulo the device count), e.g. the MPI rank
};

// The SMC-2019 settings (cbed-physics.md section 0 item 4): 100 A cell on 512 x 512, slices of d_hkl, 8 x 8 probe
// positions, one frozen-phonon configuration, no aberrations, and NAMSA's bandwidth = 1/2 of the grid, i.e. the
// band limit at the Nyquist circle (fraction 1).
MultisliceSettings smc_preset();

// Simulation grid: nx x ny pixels over an lx x ly Angstrom cell (square from the options; rectangular for tests
// that need a cell commensurate with a lattice).
struct GridGeometry {
  int nx = 0, ny = 0;
  double lx = 0, ly = 0;
  double band_limit = 2.0 / 3.0;
  // Largest |k| kept, 1/Angstrom.
  double k_max() const;
  // Spatial frequency of FFT index i along x or y (wrapped: i >= n/2 are negative).
  double kx(int i) const { return (i < nx / 2 ? i : i - nx) / lx; }
  double ky(int j) const { return (j < ny / 2 ? j : j - ny) / ly; }
  bool in_band(int i, int j) const;
};

GridGeometry grid_geometry(const MultisliceSettings& settings);

// Largest real-space pixel that still resolves atomic potentials (Angstrom).
constexpr double max_pixel_size = 0.5;

// Checks the options against the sampling rules for a projection of d-spacing `d`, beam energies (keV) and the
// convergence semi-angle (rad). Throws InvalidArgument naming the option and the limit.
void check_sampling(const MultisliceSettings& settings, const GridGeometry& grid, double d,
                    const std::vector<double>& energies_keV, double semi_angle);

// Slice thickness used for a projection of d-spacing d.
double slice_thickness_for(const MultisliceSettings& settings, double d);

// Probe positions (Angstrom, cell coordinates): an n x n grid with spacing window / n centred on the cell centre.
std::vector<std::array<double, 2>> probe_positions(const MultisliceSettings& settings, const GridGeometry& grid);

}  // namespace cbednet::io::sim::multislice
