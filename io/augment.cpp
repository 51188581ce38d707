#include "io/augment.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace cbednet::io {

void Augment::validate(int image_size) const {
  CBEDNET_REQUIRE(std::isfinite(exposure_sigma) && exposure_sigma >= 0 && exposure_sigma <= 2, InvalidArgument,
                  "--augment-exposure: the sigma of ln(exposure) must be in [0, 2], got ", exposure_sigma);
  CBEDNET_REQUIRE(std::isfinite(dose) && (dose == 0 || dose >= 1), InvalidArgument,
                  "--augment-dose: electrons per projection must be 0 (off) or at least 1, got ", dose);
  CBEDNET_REQUIRE(shift >= 0 && 2LL * shift < image_size, InvalidArgument,
                  "--augment-shift: the detector offset must be at least 0 and less than half the image (", image_size,
                  " pixels), got ", shift);
}

std::string Augment::describe() const {
  std::ostringstream out;
  out << "exposure=" << exposure_sigma << ";dose=" << dose << ";shift=" << shift;
  return out.str();
}

namespace {

// Sub-streams of RngPurpose::augment; 0 is the random view choice (core/train/views.cpp).
enum class Draw : std::uint64_t { exposure = 1, shot_noise = 2, shift = 3 };

RandomStream stream_for(std::uint64_t seed, Draw draw, std::uint64_t epoch) {
  return RandomStream(seed, RngPurpose::augment, (epoch << 8) | static_cast<std::uint64_t>(draw));
}

// One Poisson draw with mean `lambda` from the counter (a, b): inversion of the CDF for small means, the normal
// approximation (rounded, at least 0) above 64, where its error is far below the noise it models.
double poisson(const RandomStream& stream, double lambda, std::uint64_t a, std::uint64_t b) {
  if (lambda <= 0) return 0;
  if (lambda > 64) return std::max(0.0, std::round(lambda + std::sqrt(lambda) * stream.normal(a, b)));
  const double u = stream.uniform(a, b);
  double p = std::exp(-lambda);
  double cdf = p;
  double k = 0;
  while (u > cdf && k < 1000) {
    k += 1;
    p *= lambda / k;
    cdf += p;
  }
  return k;
}

constexpr double kLogFloor = -17.0;  // io/preprocess.cpp's log scale: x = 10 (max(ln I, -17) + 17)

double to_intensity(double x, bool log_scale) { return !log_scale ? x : x > 0 ? std::exp(x / 10.0 + kLogFloor) : 0.0; }
double from_intensity(double intensity, bool log_scale) {
  if (!log_scale) return intensity;
  return intensity > 0 ? 10.0 * (std::max(std::log(intensity), kLogFloor) - kLogFloor) : 0.0;
}

}  // namespace

void augment_sample(const Augment& augment, const Preprocess& preprocess, std::uint64_t seed, std::uint64_t epoch,
                    std::int64_t sample, float* chw, int channels, int size) {
  if (!augment.enabled()) return;
  const auto plane = static_cast<std::size_t>(size) * static_cast<std::size_t>(size);
  std::vector<double> intensity(plane);
  std::vector<double> shifted(plane);
  for (int c = 0; c < channels; ++c) {
    // One counter per (sample, projection); the shot noise adds the pixel as the second coordinate.
    const auto key = static_cast<std::uint64_t>(sample) * 4 + static_cast<std::uint64_t>(c);
    float* pixels = chw + static_cast<std::size_t>(c) * plane;
    const bool normalised = !preprocess.mean.empty();
    const double mean = normalised ? preprocess.mean[static_cast<std::size_t>(c)] : 0.0;
    const double stddev = normalised ? preprocess.stddev[static_cast<std::size_t>(c)] : 1.0;
    for (std::size_t i = 0; i < plane; ++i)
      intensity[i] = std::max(0.0, to_intensity(static_cast<double>(pixels[i]) * stddev + mean, preprocess.log_scale));

    if (augment.exposure_sigma > 0) {
      const double a = std::exp(augment.exposure_sigma * stream_for(seed, Draw::exposure, epoch).normal(key));
      for (double& v : intensity) v *= a;
    }
    if (augment.dose > 0) {
      double total = 0;
      for (const double v : intensity) total += v;
      if (total > 0) {
        const RandomStream noise = stream_for(seed, Draw::shot_noise, epoch);
        const double electrons_per_unit = augment.dose / total;
        for (std::size_t i = 0; i < plane; ++i)
          intensity[i] = poisson(noise, intensity[i] * electrons_per_unit, key, i) / electrons_per_unit;
      }
    }
    if (augment.shift > 0) {
      const RandomStream offsets = stream_for(seed, Draw::shift, epoch);
      const auto span = static_cast<std::uint64_t>(2 * augment.shift + 1);
      const int dy = static_cast<int>(offsets.below(span, key, 0)) - augment.shift;
      const int dx = static_cast<int>(offsets.below(span, key, 1)) - augment.shift;
      std::fill(shifted.begin(), shifted.end(), 0.0);
      for (int y = std::max(0, dy); y < std::min(size, size + dy); ++y)
        for (int x = std::max(0, dx); x < std::min(size, size + dx); ++x)
          shifted[static_cast<std::size_t>(y) * size + x] =
              intensity[static_cast<std::size_t>(y - dy) * size + (x - dx)];
      intensity.swap(shifted);
    }
    for (std::size_t i = 0; i < plane; ++i)
      pixels[i] = static_cast<float>((from_intensity(intensity[i], preprocess.log_scale) - mean) / stddev);
  }
}

}  // namespace cbednet::io
