// The layers of a CBEDNet ResNet in graph order, by name, as the ONNX exporter writes them and the importer maps an
// ONNX graph onto them. It follows core/model/resnet.cpp's builder (stage widths, stride 2 on each later stage's
// first block, a projection shortcut where the shape changes); the exporter checks that it uses every tensor of
// the checkpoint exactly once, so a builder that diverged from it would fail there, not export a wrong graph.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/model/resnet.hpp"

namespace cbednet::interop {

// A convolution (no bias) followed by batch normalisation.
struct ConvBn {
  std::string conv;  // layer name: parameter "<conv>.weight"
  std::string bn;    // layer name: "<bn>.gamma", "<bn>.beta", "<bn>.running_mean", "<bn>.running_var"
  std::int64_t in_channels = 0, out_channels = 0;
  int kernel = 1, stride = 1, pad = 0;
};

struct ResidualLayout {
  std::string name;                // "layer1.0"
  std::vector<ConvBn> main;        // 2 (basic) or 3 (bottleneck); ReLU after each but the last
  std::optional<ConvBn> shortcut;  // projection; identity when absent
};

struct ResNetLayout {
  ConvBn stem;  // then ReLU, then (imagenet stem) max pool 3x3/2 pad 1
  bool stem_pool = true;
  std::vector<ResidualLayout> blocks;  // each ends with add and ReLU
  std::string fc = "head.fc";          // after global average pooling: "<fc>.weight" [K, C], "<fc>.bias" [K]
  std::int64_t features = 0;           // input features of the fully connected layer
};

ResNetLayout resnet_layout(const ResNetSpec& spec);

// Batch norm's epsilon in every CBEDNet model (core/layers/batchnorm.hpp's default, which the builder uses).
inline constexpr double batchnorm_epsilon = 1e-5;

}  // namespace cbednet::interop
