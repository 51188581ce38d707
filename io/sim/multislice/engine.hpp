// One multislice step sequence for a batch of probe positions, behind an interface that a GPU engine implements the
// same way (cbed-physics.md section 3.1 steps 3-7). Everything random (frozen-phonon displacements) and the slice
// potentials are computed before an engine sees them, so two engines given the same SliceStack differ only by
// floating-point rounding.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "io/sim/multislice/settings.hpp"

namespace cbednet::io::sim::multislice {

struct SliceStack {
  GridGeometry grid;
  std::vector<std::vector<float>> potentials;  // per slice, real-space v_z [ny, nx], V Angstrom
  std::vector<double> thickness;               // per slice, Angstrom
};

struct BeamSettings {
  double energy_keV = 200;
  double semi_angle = 0.005;  // rad: hard aperture of radius alpha / lambda
  double defocus = 0;         // Angstrom (positive = underfocus)
  double cs_mm = 0;
};

class MultisliceEngine {
 public:
  virtual ~MultisliceEngine() = default;
  virtual std::string name() const = 0;
  // out[ny * nx] += weight * mean over probes of |FFT(psi_exit)|^2, the wave normalised to sum |psi(r)|^2 = 1 (so an
  // empty specimen's pattern sums to nx * ny, the scale of the kinematic patterns). Row i of out is ky = (i - ny/2)
  // / ly, column j is kx = (j - nx/2) / lx (zero frequency at the centre).
  // Checks the inputs once for every engine (multislice.cpp), then runs the engine's do_accumulate_pattern.
  void accumulate_pattern(const SliceStack& slices, const BeamSettings& beam,
                          const std::vector<std::array<double, 2>>& probe_positions, double weight, float* out);

 protected:
  virtual void do_accumulate_pattern(const SliceStack& slices, const BeamSettings& beam,
                                     const std::vector<std::array<double, 2>>& probe_positions, double weight,
                                     float* out) = 0;
};

// FFTW engine; `threads` run probe positions in parallel (OpenMP).
std::unique_ptr<MultisliceEngine> make_cpu_engine(int threads = 1);

// cuFFT engine on CUDA device `device` modulo the device count (cuda_engine.cpp; UNVERIFIED on a GPU so far). Throws
// InvalidArgument with a clear message in a build without CUDA or on a machine without a CUDA device.
std::unique_ptr<MultisliceEngine> make_cuda_engine(int device = 0);
// Whether this build has the CUDA engine.
bool cuda_engine_built();

}  // namespace cbednet::io::sim::multislice
