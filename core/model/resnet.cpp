#include "core/model/resnet.hpp"

#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

#include "core/model/model.hpp"

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

ResNetSpec resnet_spec(const std::string& arch) {
  using Kind = ResidualBlock::Kind;
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
  blocks.push_back(std::make_unique<Stem>("stem", spec.in_channels, spec.stem_width(), spec.stem));
  std::int64_t channels = spec.stem_width();
  for (std::size_t stage = 0; stage < spec.stage_blocks.size(); ++stage) {
    for (int b = 0; b < spec.stage_blocks[stage]; ++b) {
      const int stride = (b == 0 && stage > 0) ? 2 : 1;
      auto block =
          std::make_unique<ResidualBlock>("layer" + std::to_string(stage + 1) + "." + std::to_string(b), spec.block,
                                          channels, spec.width(stage), stride, spec.zero_init_residual);
      channels = block->out_channels();
      blocks.push_back(std::move(block));
    }
  }
  blocks.push_back(std::make_unique<Head>("head", channels, spec.classes, spec.dropout, /*dropout_id=*/1));
  return Model(spec, std::move(blocks));  // computes every block's shapes: throws ShapeError if the input is too small
}

}  // namespace cbednet
