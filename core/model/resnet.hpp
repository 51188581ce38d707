// ResNet builder: the standard depths by name, and any depth/width/input as one line (tiny test models,
// "ResNet-1k"-class deep variants).
//
//   resnet18, resnet34                  basic blocks   [2,2,2,2], [3,4,6,3]
//   resnet50, resnet101, resnet152      bottleneck     [3,4,6,3], [3,4,23,3], [3,8,36,3]
//   resnet200                           bottleneck     [3,24,36,3]
//   resnet<D> for other D               bottleneck, D = 3 * blocks + 2 with blocks spread over four stages in
//                                       ResNet-152's proportions (e.g. resnet1001 has 333 blocks)
//   "basic:2,2,2,2" / "bottleneck:3,4,6,3"   explicit block counts per stage (any number of stages)
// Pre-activation networks (He et al. 2016, "Identity Mappings in Deep Residual Networks"; preact_block.hpp):
//   preresnet18/34/50/101/152/200       the ImageNet block counts above (preresnet200: the paper's ResNet-200)
//   preresnet<D> for other D            the paper's CIFAR networks: three stages of widths 16, 32, 64 (base width 16,
//                                       small stem), D = 9n + 2 bottleneck when D >= 164 (preresnet164: n = 18,
//                                       preresnet1001: n = 111), else D = 6n + 2 basic (preresnet110: n = 18)
//   "preact-basic:..." / "preact-bottleneck:..."   explicit block counts
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/resnet_blocks.hpp"

namespace cbednet {

struct ResNetSpec {
  std::string arch = "resnet50";
  ResidualBlock::Kind block = ResidualBlock::Kind::bottleneck;
  std::vector<int> stage_blocks{3, 4, 6, 3};
  std::int64_t base_width = 64;  // stage widths base_width * 2^i, scaled by width_multiplier
  double width_multiplier = 1.0;
  std::int64_t in_channels = 3;
  std::int64_t classes = 230;
  std::int64_t input_size = 512;  // H = W
  StemKind stem = StemKind::imagenet;
  double dropout = 0.0;             // before the fully connected layer
  bool zero_init_residual = false;  // gamma of each block's last BN starts at zero (Goyal et al. 2017)
  bool pre_activation = false;      // BN -> ReLU -> conv units with clean identity shortcuts (preact_block.hpp)

  std::int64_t width(std::size_t stage) const;  // channels of stage's 3x3 convolutions
  std::int64_t stem_width() const;
};

// Parses an architecture name (see above) into a spec with default width, channels, classes and input size.
// Throws InvalidArgument naming the architecture when unknown.
ResNetSpec resnet_spec(const std::string& arch);

class Model;
// Builds the blocks: stem, residual blocks named layer<stage>.<index> (as torchvision), head.
Model build_resnet(const ResNetSpec& spec);

}  // namespace cbednet
