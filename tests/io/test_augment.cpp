// io/augment: each transform against what it promises (exposure factor, Poisson statistics, whole-pixel shifts),
// in the linear, log-scaled and normalised pixel domains, deterministic per (seed, epoch, sample, projection).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "io/augment.hpp"

namespace cbednet::io {
namespace {

constexpr int kS = 16;
constexpr std::size_t kPlane = static_cast<std::size_t>(kS) * kS;

// Three projections with intensities spanning decades and some exact zeros (dark pixels outside the aperture).
std::vector<float> pattern(int channels = 3) {
  std::vector<float> x(static_cast<std::size_t>(channels) * kPlane);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 7 == 0 ? 0.0F : static_cast<float>(std::exp(-0.05 * (i % 97)));
  return x;
}

std::vector<float> augmented(const Augment& a, const Preprocess& p, std::vector<float> x, std::uint64_t epoch = 0,
                             std::int64_t sample = 5, int channels = 3) {
  augment_sample(a, p, 42, epoch, sample, x.data(), channels, kS);
  return x;
}

float log_scaled(float intensity) {
  return intensity > 0 ? static_cast<float>(10.0 * (std::max(std::log(intensity), -17.0F) + 17.0)) : 0.0F;
}

TEST(Augment, OffLeavesPixelsAloneAndDrawsAreKeyedBySeedEpochAndSample) {
  const auto x = pattern();
  EXPECT_EQ(augmented(Augment{}, Preprocess{}, x), x);
  const Augment a{.exposure_sigma = 0.3, .dose = 1e5, .shift = 2};
  EXPECT_EQ(augmented(a, Preprocess{}, x), augmented(a, Preprocess{}, x));
  EXPECT_NE(augmented(a, Preprocess{}, x, 0), augmented(a, Preprocess{}, x, 1));        // another epoch
  EXPECT_NE(augmented(a, Preprocess{}, x, 0, 5), augmented(a, Preprocess{}, x, 0, 6));  // another sample
}

// The factor of (epoch 0, sample s, projection c) read off a linear-domain run.
std::vector<double> exposure_factors(double sigma, std::int64_t sample) {
  const auto x = pattern();
  const auto y = augmented(Augment{.exposure_sigma = sigma}, Preprocess{}, x, 0, sample);
  std::vector<double> factors;
  for (int c = 0; c < 3; ++c) {
    const std::size_t i = static_cast<std::size_t>(c) * kPlane + 1;  // a non-zero pixel
    const double a = static_cast<double>(y[i]) / x[i];
    for (std::size_t j = 0; j < kPlane; ++j) {
      const std::size_t k = static_cast<std::size_t>(c) * kPlane + j;
      EXPECT_NEAR(y[k], a * x[k], 1e-6 * a * x[k] + 1e-30) << "projection " << c << " pixel " << j;
    }
    factors.push_back(a);
  }
  return factors;
}

TEST(Augment, ExposureScalesEachProjectionByALogNormalFactor) {
  const double sigma = 0.25;
  std::vector<double> logs;
  for (std::int64_t s = 0; s < 200; ++s)
    for (const double a : exposure_factors(sigma, s)) logs.push_back(std::log(a));
  double mean = 0, var = 0;
  for (const double l : logs) mean += l;
  mean /= static_cast<double>(logs.size());
  for (const double l : logs) var += (l - mean) * (l - mean);
  const double stddev = std::sqrt(var / static_cast<double>(logs.size() - 1));
  EXPECT_NEAR(mean, 0.0, 4 * sigma / std::sqrt(static_cast<double>(logs.size())));
  EXPECT_NEAR(stddev, sigma, 0.1 * sigma);
  const auto f = exposure_factors(sigma, 3);
  EXPECT_NE(f[0], f[1]);  // the projections are three acquisitions
}

TEST(Augment, ExposureOnLogScaledPixelsIsTheShiftOfTheLogarithm) {
  const double sigma = 0.5;
  const auto factors = exposure_factors(sigma, 9);
  const auto intensities = pattern();
  std::vector<float> x(intensities.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = log_scaled(intensities[i]);
  const auto y = augmented(Augment{.exposure_sigma = sigma}, Preprocess{.log_scale = true}, x, 0, 9);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double expected = x[i] > 0 ? std::max(0.0, x[i] + 10.0 * std::log(factors[i / kPlane])) : 0.0;
    EXPECT_NEAR(y[i], expected, 2e-4) << "pixel " << i;  // a dark pixel stays dark
  }
}

TEST(Augment, NormalisedPixelsAreAugmentedBeforeTheNormalisation) {
  const Augment a{.exposure_sigma = 0.2, .dose = 1e4, .shift = 1};
  const Preprocess plain{.log_scale = true};
  Preprocess normalised = plain;
  normalised.mean = {3.0F, 4.0F, 5.0F};
  normalised.stddev = {2.0F, 0.5F, 1.5F};
  const auto intensities = pattern();
  std::vector<float> x(intensities.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = log_scaled(intensities[i]);
  const auto expected = augmented(a, plain, x);
  std::vector<float> z = x;
  normalise(normalised, z.data(), 3, static_cast<std::int64_t>(kPlane));
  const auto y = augmented(a, normalised, z);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = i / kPlane;
    EXPECT_NEAR(y[i] * normalised.stddev[c] + normalised.mean[c], expected[i], 2e-4) << "pixel " << i;
  }
}

// counts per pixel of a flat pattern recorded with `per_pixel` electrons per pixel on average.
std::vector<double> flat_counts(double per_pixel, std::int64_t sample) {
  std::vector<float> x(kPlane, 2.5F);
  x[3] = 0.0F;  // a dark pixel receives no electrons
  const double dose = per_pixel * static_cast<double>(kPlane - 1);
  const auto y = augmented(Augment{.dose = dose}, Preprocess{}, x, 0, sample, 1);
  EXPECT_EQ(y[3], 0.0F);
  std::vector<double> counts;
  for (std::size_t i = 0; i < kPlane; ++i) {
    if (i == 3) continue;
    const double k = y[i] / 2.5 * per_pixel;  // I' = k total / dose = k 2.5 / per_pixel
    EXPECT_NEAR(k, std::round(k), 1e-3) << "pixel " << i << " is not a whole number of electrons";
    counts.push_back(std::round(k));
  }
  return counts;
}

TEST(Augment, ShotNoiseIsPoissonWithTheGivenDose) {
  for (const double lambda : {0.5, 4.0, 200.0}) {  // inversion, inversion, normal approximation
    std::vector<double> all;
    for (std::int64_t s = 0; s < 40; ++s)
      for (const double k : flat_counts(lambda, s)) all.push_back(k);
    double mean = 0, var = 0;
    for (const double k : all) mean += k;
    mean /= static_cast<double>(all.size());
    for (const double k : all) var += (k - mean) * (k - mean);
    var /= static_cast<double>(all.size() - 1);
    const double n = static_cast<double>(all.size());
    EXPECT_NEAR(mean, lambda, 4 * std::sqrt(lambda / n)) << "lambda " << lambda;
    EXPECT_NEAR(var / lambda, 1.0, 0.08) << "lambda " << lambda;
  }
}

TEST(Augment, ShiftMovesWholePixelsAndDarkensWhatItUncovers) {
  const int k = 3;
  std::set<std::pair<int, int>> seen;
  for (std::int64_t s = 0; s < 400; ++s) {
    std::vector<float> spot(kPlane, 0.0F);
    spot[8 * kS + 8] = 7.0F;
    const auto y = augmented(Augment{.shift = k}, Preprocess{}, spot, 0, s, 1);
    int found = 0, dy = 0, dx = 0;
    for (int r = 0; r < kS; ++r)
      for (int c = 0; c < kS; ++c)
        if (y[static_cast<std::size_t>(r * kS + c)] != 0.0F) {
          ++found;
          EXPECT_EQ(y[static_cast<std::size_t>(r * kS + c)], 7.0F);
          dy = r - 8;
          dx = c - 8;
        }
    ASSERT_EQ(found, 1) << "sample " << s;
    EXPECT_LE(std::abs(dy), k);
    EXPECT_LE(std::abs(dx), k);
    seen.insert({dy, dx});
    // The same offset on a bright image: what came in from outside is dark.
    const auto full = augmented(Augment{.shift = k}, Preprocess{}, std::vector<float>(kPlane, 1.0F), 0, s, 1);
    double lit = 0;
    for (const float v : full) lit += v;
    EXPECT_EQ(lit, static_cast<double>((kS - std::abs(dy)) * (kS - std::abs(dx))));
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>((2 * k + 1) * (2 * k + 1)));  // every offset is drawn
}

TEST(Augment, OutOfRangeOptionsAreNamed) {
  const auto message = [](const Augment& a, int size) {
    try {
      a.validate(size);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(Augment{.exposure_sigma = -0.1}, 64).find("--augment-exposure"), std::string::npos);
  EXPECT_NE(message(Augment{.exposure_sigma = 2.5}, 64).find("--augment-exposure"), std::string::npos);
  EXPECT_NE(message(Augment{.dose = 0.5}, 64).find("--augment-dose"), std::string::npos);
  EXPECT_NE(message(Augment{.dose = std::nan("")}, 64).find("--augment-dose"), std::string::npos);
  EXPECT_NE(message(Augment{.shift = -1}, 64).find("--augment-shift"), std::string::npos);
  EXPECT_NE(message(Augment{.shift = 32}, 64).find("--augment-shift"), std::string::npos);
  EXPECT_EQ(message(Augment{.exposure_sigma = 2, .dose = 1, .shift = 31}, 64), "");
}

}  // namespace
}  // namespace cbednet::io
