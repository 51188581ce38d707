// A trained model as evaluate and predict use it: the checkpoint (a file, or a run directory's newest good
// checkpoint), the model built from its description, and the data settings its training used.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "app/run_setup.hpp"
#include "core/model/stage.hpp"
#include "io/checkpoint/checkpoint.hpp"

namespace cbednet::app {

struct TrainedModel {
  std::string checkpoint;  // the file loaded
  io::CheckpointInfo info;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Stage> stage;
  io::Preprocess preprocess;  // as in training (log scale, downsampling)
  ViewMode views = ViewMode::stack;
};

// `path`: a checkpoint file or a run directory (its checkpoints/ folder). Throws naming the path.
TrainedModel load_trained_model(const std::string& path, const BackendOptions& backend);

// Value of `key` in INI text ("key = value" lines), if present.
std::optional<std::string> ini_value(const std::string& ini, const std::string& key);

// Throws InvalidArgument naming the data if its samples do not fit the model's input.
void require_compatible(const TrainedModel& trained, const Shape& sample, const std::string& data);

}  // namespace cbednet::app
