#include "interop/onnx/resnet_layout.hpp"

namespace cbednet::interop {

ResNetLayout resnet_layout(const ResNetSpec& spec) {
  ResNetLayout layout;
  const bool imagenet = spec.stem == StemKind::imagenet;
  layout.stem = {"stem.conv",      "stem.bn",        spec.in_channels, spec.stem_width(),
                 imagenet ? 7 : 3, imagenet ? 2 : 1, imagenet ? 3 : 1};
  layout.stem_pool = imagenet;
  std::int64_t channels = spec.stem_width();
  const bool basic = spec.block == ResidualBlock::Kind::basic;
  for (std::size_t stage = 0; stage < spec.stage_blocks.size(); ++stage) {
    const std::int64_t width = spec.width(stage);
    const std::int64_t out = basic ? width : width * ResidualBlock::bottleneck_expansion;
    for (int b = 0; b < spec.stage_blocks[stage]; ++b) {
      const int stride = (b == 0 && stage > 0) ? 2 : 1;
      ResidualLayout block;
      block.name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      const auto unit = [&](const std::string& suffix, std::int64_t cin, std::int64_t cout, int k, int s) {
        return ConvBn{block.name + ".conv" + suffix, block.name + ".bn" + suffix, cin, cout, k, s, k / 2};
      };
      if (basic) {
        block.main = {unit("1", channels, width, 3, stride), unit("2", width, width, 3, 1)};
      } else {
        block.main = {unit("1", channels, width, 1, 1), unit("2", width, width, 3, stride),
                      unit("3", width, out, 1, 1)};
      }
      if (stride != 1 || channels != out)
        block.shortcut =
            ConvBn{block.name + ".shortcut.conv", block.name + ".shortcut.bn", channels, out, 1, stride, 0};
      channels = out;
      layout.blocks.push_back(std::move(block));
    }
  }
  layout.features = channels;
  return layout;
}

}  // namespace cbednet::interop
