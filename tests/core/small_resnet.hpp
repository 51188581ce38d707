// What the ResNet-level tests of core/model share: a small network of a given architecture and stem, a fixed batch of
// images and labels for it, and the largest difference between two host fp64 tensors relative to the first's scale.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "core/model/model.hpp"

namespace cbednet::test {

// Width 4, five classes, 8² inputs (16² for the ImageNet stem, which halves twice).
inline ResNetSpec small_resnet(const std::string& arch, StemKind stem) {
  ResNetSpec spec = resnet_spec(arch);
  spec.base_width = 4;
  spec.input_size = stem == StemKind::imagenet ? 16 : 8;
  spec.classes = 5;
  spec.stem = stem;
  return spec;
}

struct Batch {
  Tensor images, labels;
};

// n images of smooth values in [-2, 2] and labels cycling through the classes, both shifted by seed.
inline Batch small_batch(const Model& model, std::int64_t n, int seed) {
  Batch b{Tensor(model.input_shape(n), DType::f32), Tensor({n, 1, 1, 1}, DType::i32)};
  for (std::int64_t i = 0; i < b.images.count(); ++i)
    b.images.data<float>()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i + seed)) * 2.0);
  for (std::int64_t i = 0; i < n; ++i)
    b.labels.data<std::int32_t>()[i] = static_cast<std::int32_t>((i + seed) % model.classes());
  return b;
}

// max |a - b| / max |a| over host fp64 tensors of equal count (max |a - b| when a is all zero).
inline double max_relative_difference(const Tensor& a, const Tensor& b) {
  double diff = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < a.count(); ++i) {
    diff = std::max(diff, std::abs(a.data<double>()[i] - b.data<double>()[i]));
    scale = std::max(scale, std::abs(a.data<double>()[i]));
  }
  return scale > 0.0 ? diff / scale : diff;
}

}  // namespace cbednet::test
