// Checkpoints: one HDF5 file per checkpoint, readable with h5py (layout in docs/checkpoint-format.md).
//
//   /                    attributes cbednet_format = "cbednet-checkpoint", format_version, cbednet_version,
//                        checksum (FNV-1a 64 over the names and bytes of every dataset,
//                        groups in the order below, datasets by name; hex)
//   /model               attributes: the ResNetSpec (arch, block, stage_blocks, widths, channels, classes, size, ...)
//   /state               attributes: epoch, step_in_epoch, global_step, seed, optimizer_steps, epoch_loss_sum,
//                        epoch_correct, epoch_samples, master_dtype, loss_scale, loss_scale_good_steps
//   /config              attribute text: the run's resolved configuration (INI)
//   /parameters/<name>   one dataset per parameter, logical (N, C, H, W) order, in the master dtype
//   /momentum/<name>     SGD/LARS momentum or AdamW/LAMB first moment, same shapes
//   /buffers/<name>      batch-norm running statistics
//   /second_moment/<name>  AdamW/LAMB second moment (only in their runs)
//   /ema/<name>          moving average of the parameters (only with --ema-decay)
// Random numbers are counter-based (core/rng.hpp), so (seed, epoch, step) is the whole RNG and data-order state.
// Files are written to a temporary name and renamed; a load verifies the format, version, model and checksum.
// This module reads and writes tensors by name; collect_tensors/assign_tensors (core/model/param_store.hpp) move
// them out of and into a model's ParamStore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/model/resnet.hpp"
#include "core/named_tensors.hpp"
#include "core/train/training_state.hpp"

namespace cbednet::io {

inline constexpr int checkpoint_format_version = 1;

using TrainingState = cbednet::TrainingState;  // core/train/training_state.hpp

struct CheckpointInfo {
  ResNetSpec spec;
  TrainingState state;
  std::string config;  // INI text
  std::string master_dtype;
};

// What a checkpoint holds of a model, on the host by name: parameters, momentum, batch-norm buffers, and the
// optional second moments and weight average.
using CheckpointTensors = ModelTensors;

// Writes `path` atomically (temporary name, then rename). Throws IoError naming the file on failure.
void save_checkpoint(const std::string& path, const ResNetSpec& spec, const TrainingState& state,
                     const std::string& config, const CheckpointTensors& tensors);

// Reads the model description, state and configuration, verifying format and version.
CheckpointInfo read_checkpoint_info(const std::string& path);
// Reads every dataset and verifies the checksum; throws IoError naming the file if it is corrupt or truncated.
void verify_checkpoint(const std::string& path);

// A checkpoint read whole: its description and every tensor, as stored (f32 or f64, on the host).
struct LoadedCheckpoint {
  CheckpointInfo info;
  CheckpointTensors tensors;
};
// Reads and verifies `path` against the model `expected`. Throws IoError naming the file if the architecture or
// class count differs or the checksum is wrong. Names and shapes are checked by assign_tensors, per stage.
LoadedCheckpoint load_checkpoint(const std::string& path, const ResNetSpec& expected);

// "<dir>/ckpt-<global_step, 8 digits>.h5"
std::string checkpoint_path(const std::string& dir, std::int64_t global_step);
// Newest checkpoint in dir by step (nothing when there is none). Files that fail verification are skipped
// with a note in *skipped (the newest good one is returned).
std::optional<std::string> latest_checkpoint(const std::string& dir, std::string* skipped = nullptr);
// Deletes all but the newest `keep` checkpoints of dir.
void prune_checkpoints(const std::string& dir, int keep);

}  // namespace cbednet::io
