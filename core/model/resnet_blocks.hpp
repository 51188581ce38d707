// The blocks of a ResNet (He et al. 2016; bottleneck v1.5 with the stride on the 3x3, as torchvision):
//   Stem        conv 7x7/2 -> BN+ReLU -> max pool 3x3/2     ("imagenet" stem)
//               conv 3x3/1 -> BN+ReLU                       ("small" stem, for tiny inputs)
//   BasicBlock  conv 3x3/s -> BN+ReLU -> conv 3x3 -> BN + shortcut -> ReLU          (ResNet-18/34)
//   Bottleneck  conv 1x1 -> BN+ReLU -> conv 3x3/s -> BN+ReLU -> conv 1x1 (x4) -> BN + shortcut -> ReLU
//   Head        global average pool -> dropout (optional) -> fully connected
// Pre-activation networks (preact_block.hpp) use the "small" stem without its BN+ReLU (plain conv 3x3, as the
// paper's CIFAR networks) and a head that starts with BN+ReLU (the units end with an addition, not an activation).
// The shortcut is the identity, or conv 1x1/s -> BN when the shape changes. The residual add and the final ReLU
// are fused into the last batch norm (Backend::batchnorm_* with a residual), as cuDNN can do on GPUs.
#pragma once

#include <optional>

#include "core/layers/batchnorm.hpp"
#include "core/layers/conv2d.hpp"
#include "core/layers/elementwise.hpp"
#include "core/layers/linear.hpp"
#include "core/layers/pooling.hpp"
#include "core/model/block.hpp"
#include "core/model/folded_conv.hpp"

namespace cbednet {

enum class StemKind : std::uint8_t { imagenet, small };

class Stem final : public Block {
 public:
  // normalize: BN+ReLU after the convolution (every stem but a pre-activation network's small one).
  Stem(std::string name, std::int64_t in_channels, std::int64_t width, StemKind kind, bool normalize = true);
  Shape output_shape(const Shape& in) const override;
  std::vector<Layer*> layers() override;
  BlockCost cost(const Shape& in) const override;
  Tensor forward(Backend& backend, const Tensor& x, const PassInfo& pass, std::unique_ptr<BlockContext>* ctx) override;
  Tensor backward(Backend& backend, const Tensor& dy, BlockContext& ctx, bool need_dx) override;
  int fold_batch_norms(Backend& backend) override;
  void unfold_batch_norms() override { folded_.reset(); }

 private:
  Conv2d conv_;
  std::optional<BatchNorm> bn_;
  std::optional<MaxPool> pool_;
  std::optional<FoldedConv> folded_;  // conv_ with bn_ folded in, while folded for inference
};

// A residual block: BasicBlock (two 3x3) or Bottleneck (1x1, 3x3, 1x1 with expansion 4).
class ResidualBlock final : public Block {
 public:
  enum class Kind : std::uint8_t { basic, bottleneck };
  ResidualBlock(std::string name, Kind kind, std::int64_t in_channels, std::int64_t width, int stride,
                bool zero_init_last_gamma);
  Shape output_shape(const Shape& in) const override;
  std::vector<Layer*> layers() override;
  BlockCost cost(const Shape& in) const override;
  Tensor forward(Backend& backend, const Tensor& x, const PassInfo& pass, std::unique_ptr<BlockContext>* ctx) override;
  Tensor backward(Backend& backend, const Tensor& dy, BlockContext& ctx, bool need_dx) override;

  int fold_batch_norms(Backend& backend) override;
  void unfold_batch_norms() override;
  bool set_fused_batch_norm(bool on) override {
    fused_ = on;
    return true;
  }

  std::int64_t out_channels() const { return out_channels_; }
  Kind kind() const { return kind_; }
  static constexpr std::int64_t bottleneck_expansion = 4;

 private:
  Kind kind_;
  std::int64_t out_channels_;
  std::vector<std::unique_ptr<Conv2d>> convs_;   // main branch, 2 (basic) or 3 (bottleneck)
  std::vector<std::unique_ptr<BatchNorm>> bns_;  // one per conv; the last fuses the residual add and ReLU
  std::optional<Conv2d> shortcut_conv_;
  std::optional<BatchNorm> shortcut_bn_;
  std::vector<FoldedConv> folded_;  // convs_ with bns_ folded in, while folded for inference (else empty)
  std::optional<FoldedConv> folded_shortcut_;
  bool fused_ = false;  // training through the fused batch-norm operations (set_fused_batch_norm)

  Tensor forward_fused(Backend& backend, const Tensor& x, std::unique_ptr<BlockContext>* ctx);
  Tensor backward_fused(Backend& backend, const Tensor& dy, BlockContext& ctx, bool need_dx);
};

class Head final : public Block {
 public:
  // pre_activation: BN+ReLU before the pooling (the final activation of a pre-activation network).
  Head(std::string name, std::int64_t in_channels, std::int64_t classes, double dropout, std::uint64_t dropout_id,
       bool pre_activation = false);
  Shape output_shape(const Shape& in) const override;
  std::vector<Layer*> layers() override;
  BlockCost cost(const Shape& in) const override;
  Tensor forward(Backend& backend, const Tensor& x, const PassInfo& pass, std::unique_ptr<BlockContext>* ctx) override;
  Tensor backward(Backend& backend, const Tensor& dy, BlockContext& ctx, bool need_dx) override;

 private:
  std::optional<BatchNorm> bn_;
  GlobalAvgPool pool_;
  std::optional<Dropout> dropout_;
  Linear fc_;
};

}  // namespace cbednet
