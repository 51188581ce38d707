// Per-class loss weights for imbalanced data (the real SMC-2019 classes range over four orders of magnitude).
#pragma once

#include <cstdint>
#include <vector>

namespace cbednet {

enum class ClassWeighting { none, inverse, effective };

// Per-class loss weights from the training labels (class c = space group c + 1), normalised so that their mean
// over the training samples is 1: inverse frequency 1/n, or the inverse effective number of samples
// (1 - beta) / (1 - beta^n) (Cui et al. 2019). Classes without samples get weight 1; none gives no weights.
std::vector<double> class_weights(const std::vector<std::int16_t>& labels, int classes, ClassWeighting scheme,
                                  double beta);

}  // namespace cbednet
