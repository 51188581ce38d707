#include "core/model/model.hpp"

namespace cbednet {

Model::Model(ResNetSpec spec, std::vector<std::unique_ptr<Block>> blocks)
    : spec_(std::move(spec)), blocks_(std::move(blocks)) {
  Shape s = input_shape(1);
  for (const auto& block : blocks_) {
    BlockInfo info{block->name(), s, block->output_shape(s), block->cost(s)};
    s = info.output;
    info_.push_back(std::move(info));
  }
}

std::int64_t Model::parameter_count() const {
  std::int64_t total = 0;
  for (const auto& i : info_) total += i.cost.parameters;
  return total;
}

std::int64_t Model::forward_macs_per_sample() const {
  std::int64_t total = 0;
  for (const auto& i : info_) total += i.cost.forward_macs;
  return total;
}

}  // namespace cbednet
