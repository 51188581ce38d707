#include "core/model/resnet.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

#include "core/model/model.hpp"
#include "core/model/preact_block.hpp"

namespace cbednet {

std::int64_t ResNetSpec::width(std::size_t stage) const {
  const double w = static_cast<double>(base_width << stage) * width_multiplier;
  return std::max<std::int64_t>(1, std::llround(w));
}

std::int64_t ResNetSpec::stem_width() const {
  return std::max<std::int64_t>(1, std::llround(static_cast<double>(base_width) * width_multiplier));
}

namespace {

std::vector<int> parse_counts(const std::string& text, const std::string& arch) {
  std::vector<int> counts;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      const int v = std::stoi(item, &used);
      if (used != item.size() || v <= 0) throw std::invalid_argument(item);
      counts.push_back(v);
    } catch (const std::exception&) {
      throw_error<InvalidArgument>("--arch ", arch, ": block counts must be positive integers, got '", item, "'");
    }
  }
  if (counts.empty()) throw_error<InvalidArgument>("--arch ", arch, ": no block counts");
  return counts;
}

// Spreads `blocks` bottleneck blocks over four stages in ResNet-152's proportions 3:8:36:3.
std::vector<int> spread_blocks(int blocks) {
  const int first = 3, last = 3;
  const int middle = std::max(2, blocks - first - last);
  const int second = std::max(1, static_cast<int>(std::lround(middle * 8.0 / 44.0)));
  return {first, second, std::max(1, middle - second), last};
}

}  // namespace

namespace {

// "preresnet<D>" beyond the ImageNet names: the CIFAR networks of He et al. 2016 (three stages, width 16).
ResNetSpec cifar_preact_spec(const std::string& arch, int depth) {
  using Kind = ResidualBlock::Kind;
  ResNetSpec spec;
  spec.arch = arch;
  spec.pre_activation = true;
  spec.base_width = 16;
  spec.stem = StemKind::small;
  if (depth >= 164 && (depth - 2) % 9 == 0) {
    spec.block = Kind::bottleneck;
    spec.stage_blocks.assign(3, (depth - 2) / 9);
  } else if (depth < 164 && depth >= 8 && (depth - 2) % 6 == 0) {
    spec.block = Kind::basic;
    spec.stage_blocks.assign(3, (depth - 2) / 6);
  } else {
    throw_error<InvalidArgument>("--arch ", arch,
                                 ": no block count gives this depth; a pre-activation CIFAR network has depth 6n + 2 "
                                 "(basic, below 164: preresnet20, 56, 110) or 9n + 2 (bottleneck, from 164: "
                                 "preresnet164, 1001), and preresnet18/34/50/101/152/200 are the ImageNet ones");
  }
  return spec;
}

}  // namespace

ResNetSpec resnet_spec(const std::string& arch) {
  using Kind = ResidualBlock::Kind;
  if (arch.rfind("preresnet", 0) == 0 || arch.rfind("preact-", 0) == 0) {
    const bool explicit_counts = arch.rfind("preact-", 0) == 0;
    const std::string plain = explicit_counts ? arch.substr(7) : "resnet" + arch.substr(9);
    const std::string digits = explicit_counts ? "" : arch.substr(9);
    static const std::vector<std::string> imagenet{"18", "34", "50", "101", "152", "200"};
    ResNetSpec spec;
    if (explicit_counts || std::find(imagenet.begin(), imagenet.end(), digits) != imagenet.end()) {
      spec = resnet_spec(plain);
    } else if (!digits.empty() && digits.size() < 7 && digits.find_first_not_of("0123456789") == std::string::npos) {
      spec = cifar_preact_spec(arch, std::stoi(digits));
    } else {
      throw_error<InvalidArgument>("--arch: unknown architecture '", arch,
                                   "' (expected preresnet<depth> or preact-basic:<n,..> / preact-bottleneck:<n,..>)");
    }
    spec.arch = arch;
    spec.pre_activation = true;
    return spec;
  }
  static const std::map<std::string, std::pair<Kind, std::vector<int>>> named{
      {"resnet18", {Kind::basic, {2, 2, 2, 2}}},        {"resnet34", {Kind::basic, {3, 4, 6, 3}}},
      {"resnet50", {Kind::bottleneck, {3, 4, 6, 3}}},   {"resnet101", {Kind::bottleneck, {3, 4, 23, 3}}},
      {"resnet152", {Kind::bottleneck, {3, 8, 36, 3}}}, {"resnet200", {Kind::bottleneck, {3, 24, 36, 3}}},
  };
  ResNetSpec spec;
  spec.arch = arch;
  if (auto it = named.find(arch); it != named.end()) {
    spec.block = it->second.first;
    spec.stage_blocks = it->second.second;
    return spec;
  }
  for (const auto& [prefix, kind] :
       {std::pair{std::string("basic:"), Kind::basic}, std::pair{std::string("bottleneck:"), Kind::bottleneck}}) {
    if (arch.rfind(prefix, 0) == 0) {
      spec.block = kind;
      spec.stage_blocks = parse_counts(arch.substr(prefix.size()), arch);
      return spec;
    }
  }
  if (arch.rfind("resnet", 0) == 0 && arch.size() > 6) {
    const std::string digits = arch.substr(6);
    if (digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 7) {
      const int depth = std::stoi(digits);
      if (depth >= 20 && (depth - 2) % 3 == 0) {
        spec.block = Kind::bottleneck;
        spec.stage_blocks = spread_blocks((depth - 2) / 3);
        return spec;
      }
      throw_error<InvalidArgument>("--arch ", arch,
                                   ": a bottleneck ResNet has depth 3 * blocks + 2 (>= 20), e.g. "
                                   "resnet50, resnet101, resnet1001");
    }
  }
  throw_error<InvalidArgument>("--arch: unknown architecture '", arch,
                               "' (expected resnet18/34/50/101/152/200, resnet<depth>, basic:<n,n,..> or "
                               "bottleneck:<n,n,..>)");
}

Model build_resnet(const ResNetSpec& spec) {
  if (spec.in_channels <= 0 || spec.classes <= 1 || spec.input_size <= 0 || spec.base_width <= 0 ||
      !(spec.width_multiplier > 0) || spec.stage_blocks.empty())
    throw_error<InvalidArgument>("model ", spec.arch, ": invalid configuration (channels ", spec.in_channels,
                                 ", classes ", spec.classes, ", size ", spec.input_size, ", width ", spec.base_width,
                                 " x ", spec.width_multiplier, ")");
  std::vector<std::unique_ptr<Block>> blocks;
  // A pre-activation network's first unit normalises the stem's output itself: a small stem is the bare conv.
  const bool stem_bn = !(spec.pre_activation && spec.stem == StemKind::small);
  blocks.push_back(std::make_unique<Stem>("stem", spec.in_channels, spec.stem_width(), spec.stem, stem_bn));
  std::int64_t channels = spec.stem_width();
  for (std::size_t stage = 0; stage < spec.stage_blocks.size(); ++stage) {
    for (int b = 0; b < spec.stage_blocks[stage]; ++b) {
      const int stride = (b == 0 && stage > 0) ? 2 : 1;
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      if (spec.pre_activation) {
        auto block = std::make_unique<PreActBlock>(name, spec.block, channels, spec.width(stage), stride);
        channels = block->out_channels();
        blocks.push_back(std::move(block));
      } else {
        auto block = std::make_unique<ResidualBlock>(name, spec.block, channels, spec.width(stage), stride,
                                                     spec.zero_init_residual);
        channels = block->out_channels();
        blocks.push_back(std::move(block));
      }
    }
  }
  blocks.push_back(
      std::make_unique<Head>("head", channels, spec.classes, spec.dropout, /*dropout_id=*/1, spec.pre_activation));
  return Model(spec, std::move(blocks));  // computes every block's shapes: throws ShapeError if the input is too small
}

}  // namespace cbednet
