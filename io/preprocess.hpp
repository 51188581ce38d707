// Pixel preprocessing of CBED stacks, configurable and recorded with the data (describe()/parse()).
//
// Order: log scaling (optional) -> area downsampling by 1, 2 or 4 (box average) -> per-channel normalisation
// (optional). Log scaling is ORNL's `max(ln I, -17) + 17` then x10, so 0 (about 41% of the pixels, outside the
// aperture) maps to 0 and the ~1e-19..1e5 range maps to about 0..290.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace cbednet::io {

struct Preprocess {
  bool log_scale = false;
  int downsample = 1;           // 1, 2 or 4: S -> S / downsample by box averaging (S must be divisible)
  std::vector<float> mean{};    // per output channel; empty: no normalisation
  std::vector<float> stddev{};  // same length as mean
  bool separate_views = false;  // each of the three projections is its own 1-channel sample

  // InvalidArgument unless downsample is 1/2/4, S divides, mean/stddev sizes match the channels, stddev > 0.
  void validate(int S) const;
  int channels() const { return separate_views ? 1 : 3; }
  int out_size(int S) const { return S / downsample; }
  // Shape{1, C, S/f, S/f} of one output sample for input size S.
  Shape sample_shape(int S) const;
  // "log_scale=1;downsample=4;views=stack;mean=;std=": what is recorded in packed files and run directories.
  std::string describe() const;
  static Preprocess parse(const std::string& text);  // inverse of describe(); InvalidArgument on bad text
};

// Log scaling and downsampling of one [channels, S, S] block into [channels, S/f, S/f]; no normalisation.
void transform_pixels(const Preprocess& p, const float* in, int channels, int S, float* out);
// In place: (x - mean[c]) / stddev[c] for a [channels, H, W] block (no-op when mean is empty).
void normalise(const Preprocess& p, float* chw, int channels, std::int64_t hw);
// Full pipeline for one SMC stack [3,S,S]; view selects a projection when separate_views (else ignored).
void preprocess_stack(const Preprocess& p, const float* stack, int S, int view, float* out);

}  // namespace cbednet::io
