// With pipeline stages (P > 1) each stage holds only its own parameters; a checkpoint is written by world rank 0
// after the first replica of every other stage has sent it its tensors (replicas are identical).
#pragma once

#include "core/named_tensors.hpp"
#include "core/parallel/grid.hpp"

namespace cbednet {

// Collective over the first replica of every stage. Returns the whole model's tensors on world rank 0 (the
// stage-0 replica-0 rank); on other ranks returns what it was given (sent away, or untouched on other replicas).
ModelTensors gather_checkpoint_tensors(ModelTensors local, const Grid& grid);

}  // namespace cbednet
