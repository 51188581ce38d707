// Tensors by name: what a checkpoint holds of a model and what pipeline stages send world rank 0 to write one.
// Host copies keyed by the tensor's name ("layer1.0.conv1.weight"); a std::map keeps the names sorted, which is
// the order checkpoints write and checksum them in (docs/checkpoint-format.md).
#pragma once

#include <array>
#include <map>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "core/tensor.hpp"

namespace cbednet {

using NamedTensors = std::map<std::string, Tensor>;

// The names of ModelTensors' groups, in groups() order (a checkpoint's HDF5 groups).
inline constexpr std::array<const char*, 5> model_tensor_group_names = {"parameters", "momentum", "buffers",
                                                                        "second_moment", "ema"};

// A model's (or one pipeline stage's) training tensors in groups: parameters in the master dtype, their
// momentum (same names and shapes), batch-norm running statistics and, only for the optimizers and options that
// keep them (empty otherwise), AdamW/LAMB second moments and the moving average of the weights (--ema-decay).
struct ModelTensors {
  NamedTensors parameters, momentum, buffers, second_moment, ema;

  // The groups in their fixed order (checksums and the pipeline's checkpoint gather use it).
  std::array<NamedTensors*, 5> groups() { return {&parameters, &momentum, &buffers, &second_moment, &ema}; }
  std::array<const NamedTensors*, 5> groups() const { return {&parameters, &momentum, &buffers, &second_moment, &ema}; }

  // Adds another set (another pipeline stage's); a name present in both is an Error.
  void merge(ModelTensors&& other) {
    const auto mine_groups = groups();
    const auto their_groups = other.groups();
    for (std::size_t g = 0; g < mine_groups.size(); ++g)
      for (auto& [name, t] : *their_groups[g]) {
        NamedTensors* mine = mine_groups[g];
        CBEDNET_REQUIRE(mine->count(name) == 0, Error, "checkpoint: tensor ", name, " comes from two pipeline stages");
        mine->emplace(name, std::move(t));
      }
  }
};

}  // namespace cbednet
