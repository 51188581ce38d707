// Tensors by name: what a checkpoint holds of a model and what pipeline stages send world rank 0 to write one.
// Host copies keyed by the tensor's name ("layer1.0.conv1.weight"); a std::map keeps the names sorted, which is
// the order checkpoints write and checksum them in (docs/checkpoint-format.md).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "core/tensor.hpp"

namespace cbednet {

using NamedTensors = std::map<std::string, Tensor>;

// A model's (or one pipeline stage's) training tensors in three groups: parameters in the master dtype, their
// SGD momentum (same names and shapes), and batch-norm running statistics.
struct ModelTensors {
  NamedTensors parameters, momentum, buffers;

  // Adds another set (another pipeline stage's); a name present in both is an Error.
  void merge(ModelTensors&& other) {
    for (auto [mine, theirs] : {std::pair{&parameters, &other.parameters}, std::pair{&momentum, &other.momentum},
                                std::pair{&buffers, &other.buffers}})
      for (auto& [name, t] : *theirs) {
        CBEDNET_REQUIRE(mine->count(name) == 0, Error, "checkpoint: tensor ", name, " comes from two pipeline stages");
        mine->emplace(name, std::move(t));
      }
  }
};

}  // namespace cbednet
