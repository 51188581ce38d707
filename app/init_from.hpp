// train --init-from FILE: fine-tuning from another model's weights (a checkpoint of cbednet import, or of a run).
#pragma once

#include <string>

#include "core/model/stage.hpp"
#include "io/checkpoint/checkpoint.hpp"

namespace cbednet::app {

// The model to train: `from`'s architecture (block kind and counts, widths, stem) with the run's classes and
// dropout, and the data's input size and channels. Throws InvalidArgument naming the file when the data's channels
// differ from what its first convolution takes.
ResNetSpec fine_tuning_spec(const std::string& path, const io::CheckpointInfo& from, const ResNetSpec& run,
                            std::int64_t data_channels, std::int64_t data_size);

// Copies the checkpoint's parameters and batch-norm statistics into this (pipeline) stage's store by name; the head
// keeps its fresh initialisation when the class count differs. Momentum stays zero (a fresh optimizer). Returns
// whether the head is new.
bool initialise_from(Stage& stage, const std::string& path, const io::CheckpointInfo& from, const ResNetSpec& spec);

}  // namespace cbednet::app
