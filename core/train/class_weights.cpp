#include "core/train/class_weights.hpp"

#include <cmath>

namespace cbednet {

std::vector<double> class_weights(const std::vector<std::int16_t>& labels, int classes, ClassWeighting scheme,
                                  double beta) {
  if (scheme == ClassWeighting::none) return {};
  std::vector<double> count(static_cast<std::size_t>(classes), 0.0);
  for (const auto l : labels)
    if (l >= 1 && l <= classes) count[static_cast<std::size_t>(l - 1)] += 1;
  std::vector<double> w(count.size(), 1.0);
  for (std::size_t c = 0; c < count.size(); ++c) {
    if (count[c] == 0) continue;
    // inverse frequency 1/n, or the inverse effective number of samples (1 - beta) / (1 - beta^n) (Cui et al. 2019)
    w[c] = scheme == ClassWeighting::inverse ? 1.0 / count[c] : (1.0 - beta) / (1.0 - std::pow(beta, count[c]));
  }
  double weighted = 0, total = 0;
  for (std::size_t c = 0; c < count.size(); ++c) {
    weighted += w[c] * count[c];
    total += count[c];
  }
  if (weighted > 0)
    for (std::size_t c = 0; c < count.size(); ++c)
      if (count[c] > 0) w[c] *= total / weighted;
  return w;
}

}  // namespace cbednet
