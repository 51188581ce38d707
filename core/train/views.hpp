// How the three projections of a sample reach the model, in training and in evaluation.
#pragma once

#include <cstdint>
#include <string>

#include "core/train/batch_source.hpp"

namespace cbednet {

enum class ViewMode {
  stack,   // the three projections as 3 channels
  random,  // training: one random projection per sample and epoch (1 channel); evaluation: the average of the
           // softmax over the three projections (test-time averaging)
};
ViewMode parse_views(const std::string& name);  // "stack" | "random"; InvalidArgument naming --views
const char* to_string(ViewMode views);

// Image batch for the model: channel `view` of the stack ([b,C,H,W] -> [b,1,H,W]).
Tensor select_view(const Tensor& images, int view);

// Training input of ViewMode::random: [b,C,H,W] -> [b,1,H,W], sample i keeping the projection drawn from
// (seed, epoch, global sample index batch.indices[i]), so the draw does not depend on ranks or batch cuts.
Tensor random_views(const Batch& batch, std::uint64_t seed, std::uint64_t epoch);

}  // namespace cbednet
