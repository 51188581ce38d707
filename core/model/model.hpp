// Model: an ordered sequence of blocks and the per-sample input shape. A pipeline stage is any contiguous
// range of blocks [first, last); costs per block are what the partitioner balances.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/model/block.hpp"
#include "core/model/resnet.hpp"

namespace cbednet {

struct BlockInfo {
  std::string name;
  Shape input;   // per sample (n = 1)
  Shape output;  // per sample
  BlockCost cost;
};

class Model {
 public:
  Model(ResNetSpec spec, std::vector<std::unique_ptr<Block>> blocks);
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;

  const ResNetSpec& spec() const { return spec_; }
  Shape input_shape(std::int64_t batch) const { return {batch, spec_.in_channels, spec_.input_size, spec_.input_size}; }
  std::size_t size() const { return blocks_.size(); }
  Block& block(std::size_t i) { return *blocks_.at(i); }
  const std::vector<BlockInfo>& info() const { return info_; }  // per block, computed once
  std::int64_t parameter_count() const;
  std::int64_t forward_macs_per_sample() const;
  std::int64_t classes() const { return spec_.classes; }

 private:
  ResNetSpec spec_;
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<BlockInfo> info_;
};

}  // namespace cbednet
