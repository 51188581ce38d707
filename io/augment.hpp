// Training-time augmentation that keeps a pattern's space group true (docs/training.md, "Augmentation").
//
// Only what a different acquisition of the same crystal along the same zone axis could produce, each drawn
// independently per projection (the three projections are three acquisitions):
//   * exposure: every intensity times a = exp(sigma z), z ~ N(0, 1) (beam current, exposure time, detector gain);
//   * shot noise: the pattern recorded with `dose` electrons, counts ~ Poisson(dose I / sum I), rescaled back;
//   * detector offset: the pattern shifted by whole pixels, up to `shift` along each axis, uncovered pixels dark.
// Rotations and mirrors are not offered: a mirror turns a crystal into its enantiomorph (11 pairs of space groups
// differ only by handedness, and dynamical scattering tells them apart), and an in-plane rotation of one projection
// changes its orientation relative to the other two of the stack.
//
// Determinism: every draw is keyed by (seed, epoch, sample index, projection[, pixel]) with RngPurpose::augment, so
// a sample is augmented the same way on any number of ranks and grids, and a resumed run repeats it.
//
// Domain: the pixels as the loader holds them before normalisation: linear intensities, or the log scale of
// io/preprocess.hpp (x = 10 (max(ln I, -17) + 17)), which is inverted to I = exp(x / 10 - 17) for x > 0 (for a
// downsampled log-scaled pixel, the geometric mean of its box) and applied again afterwards. Normalised batches are
// un-normalised first and normalised again.
#pragma once

#include <cstdint>
#include <string>

#include "io/preprocess.hpp"

namespace cbednet::io {

struct Augment {
  double exposure_sigma = 0;  // --augment-exposure: sigma of ln(a); 0 = off
  double dose = 0;            // --augment-dose: electrons per projection; 0 = off
  int shift = 0;              // --augment-shift: largest offset in pixels along each axis; 0 = off

  bool enabled() const { return exposure_sigma > 0 || dose > 0 || shift > 0; }
  // InvalidArgument naming the option: sigma in [0, 2], dose 0 or >= 1, 0 <= shift < image size / 2.
  void validate(int image_size) const;
  // "exposure=0.2;dose=1e+06;shift=4" (recorded in train.log).
  std::string describe() const;
};

// Augments one sample [channels, size, size] in place; `sample` is its source index (unique per projection when
// the views are separate samples), `epoch` the training epoch.
void augment_sample(const Augment& augment, const Preprocess& preprocess, std::uint64_t seed, std::uint64_t epoch,
                    std::int64_t sample, float* chw, int channels, int size);

}  // namespace cbednet::io
