#include "core/optim/loss_scaler.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace cbednet {

namespace {

bool power_of_two(double x) {
  int exponent = 0;
  return x > 0 && std::isfinite(x) && std::frexp(x, &exponent) == 0.5;
}

}  // namespace

DynamicLossScaler::DynamicLossScaler(LossScalerOptions options) : options_(options), scale_(options.initial) {
  // Powers of two keep the scaling exact (see the header); the factors keep the scale one.
  CBEDNET_REQUIRE(
      power_of_two(options_.initial) && power_of_two(options_.min_scale) && power_of_two(options_.max_scale),
      InvalidArgument, "loss scale: initial, minimum and maximum must be powers of two, got ", options_.initial, ", ",
      options_.min_scale, ", ", options_.max_scale);
  CBEDNET_REQUIRE(options_.min_scale <= options_.initial && options_.initial <= options_.max_scale, InvalidArgument,
                  "loss scale: initial ", options_.initial, " outside [", options_.min_scale, ", ", options_.max_scale,
                  "]");
  CBEDNET_REQUIRE(
      power_of_two(options_.growth) && options_.growth > 1 && power_of_two(options_.backoff) && options_.backoff < 1,
      InvalidArgument, "loss scale: growth must be a power of two above 1 and backoff one below 1");
  CBEDNET_REQUIRE(options_.interval >= 1, InvalidArgument, "loss scale: the growth interval must be at least 1 step");
}

bool DynamicLossScaler::update(bool nonfinite) {
  if (nonfinite) {
    good_steps_ = 0;
    if (scale_ <= options_.min_scale) return false;
    scale_ = std::max(options_.min_scale, scale_ * options_.backoff);
    return true;
  }
  if (++good_steps_ >= options_.interval) {
    good_steps_ = 0;
    scale_ = std::min(options_.max_scale, scale_ * options_.growth);
  }
  return true;
}

void DynamicLossScaler::restore(double scale, std::int64_t good_steps) {
  CBEDNET_REQUIRE(power_of_two(scale) && scale >= options_.min_scale && scale <= options_.max_scale && good_steps >= 0,
                  InvalidArgument, "loss scale state ", scale, " after ", good_steps,
                  " finite steps does not fit the scaler's settings");
  scale_ = scale;
  good_steps_ = good_steps;
}

}  // namespace cbednet
