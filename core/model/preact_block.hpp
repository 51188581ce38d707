// The pre-activation residual unit (He, Zhang, Ren & Sun 2016, "Identity Mappings in Deep Residual Networks"):
//   basic       x -> BN+ReLU -> conv 3x3/s -> BN+ReLU -> conv 3x3                  + shortcut
//   bottleneck  x -> BN+ReLU -> conv 1x1 -> BN+ReLU -> conv 3x3/s -> BN+ReLU -> conv 1x1 (x4)   + shortcut
// Nothing follows the addition (no BN, no ReLU): the identity path from any unit to any later one stays clean. The
// shortcut is x itself, or a plain 1x1/s convolution of the pre-activated input (BN+ReLU of x, shared with the
// branch) when the shape changes, as in the paper's first unit and common implementations. Layers are in forward
// order: bn1, conv1, bn2, conv2, [bn3, conv3], [shortcut.conv].
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/model/resnet_blocks.hpp"

namespace cbednet {

class PreActBlock final : public Block {
 public:
  PreActBlock(std::string name, ResidualBlock::Kind kind, std::int64_t in_channels, std::int64_t width, int stride);
  Shape output_shape(const Shape& in) const override;
  std::vector<Layer*> layers() override;
  BlockCost cost(const Shape& in) const override;
  Tensor forward(Backend& backend, const Tensor& x, const PassInfo& pass, std::unique_ptr<BlockContext>* ctx) override;
  Tensor backward(Backend& backend, const Tensor& dy, BlockContext& ctx, bool need_dx) override;

  std::int64_t out_channels() const { return out_channels_; }

 private:
  std::int64_t out_channels_;
  std::vector<std::unique_ptr<BatchNorm>> bns_;  // bns_[i] (with ReLU) feeds convs_[i]
  std::vector<std::unique_ptr<Conv2d>> convs_;
  std::optional<Conv2d> shortcut_conv_;
};

}  // namespace cbednet
