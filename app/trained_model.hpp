// A trained model as evaluate and predict use it: the checkpoint (a file, or a run directory's newest good
// checkpoint), the model built from its description, and the data settings its training used.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "app/options.hpp"
#include "app/run_setup.hpp"
#include "core/model/stage.hpp"
#include "core/train/evaluation.hpp"
#include "io/checkpoint/checkpoint.hpp"
#include "io/hdf5/loader.hpp"

namespace cbednet::app {

struct TrainedModel {
  std::string checkpoint;  // the file loaded
  io::CheckpointInfo info;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Stage> stage;
  io::Preprocess preprocess;  // as in training (log scale, downsampling)
  ViewMode views = ViewMode::stack;
  bool averaged_weights = false;             // the checkpoint's moving average of the weights (--ema-decay) is loaded
  int folded_batch_norms = 0;                // folded into their convolutions for inference (--fold-batch-norm on)
  ForwardMode forward = ForwardMode::eager;  // --cuda-graph on: recorded once and replayed
};

// `path`: a checkpoint file, or a run directory whose newest checkpoint that verifies is returned. Throws naming
// the path when a directory has none.
std::string resolve_checkpoint(const std::string& path);
// The preprocessing a run's configuration (INI text) records: log scaling and downsampling of SMC sources. Throws
// naming `checkpoint` (where the configuration came from) when the downsampling is not 1, 2 or 4.
io::Preprocess recorded_preprocess(const std::string& ini, const std::string& checkpoint);

// `path`: a checkpoint file or a run directory (its checkpoints/ folder). Throws naming the path.
TrainedModel load_trained_model(const std::string& path, const BackendOptions& backend);

// Value of `key` in INI text ("key = value" lines), if present.
std::optional<std::string> ini_value(const std::string& ini, const std::string& key);

// Throws InvalidArgument naming the data if its samples do not fit the model's input.
void require_compatible(const TrainedModel& trained, const Shape& sample, const std::string& data);

// What evaluate and predict share: a trained model and, on every rank, an in-order loader of the data it is
// applied to (checked to fit the model).
struct Inference {
  TrainedModel trained;
  std::unique_ptr<io::DistributedLoader> loader;
};

// Adds --checkpoint, --split (default `default_split`), --batch, --skip-bad, --fold-batch-norm, --cuda-graph and the
// backend options.
void add_inference_options(po::options_description& options, const std::string& default_split);
// What predict accepts beyond evaluate: unlabelled samples (label 0) and plain arrays (.npy, TIFF, an HDF5 dataset
// named by --dataset), box-averaged to the model's input size.
struct ForeignData {
  bool allow_unlabelled = false;
  std::string dataset;  // --dataset: the HDF5 dataset of stacks inside --input
};
// From those options: loads the checkpoint (its batch norms folded unless --fold-batch-norm off) and opens `data`
// on MPI_COMM_WORLD.
Inference open_inference(const po::variables_map& vm, const std::string& data, const ForeignData& foreign = {});
// The options the loader of open_inference opened `data` with, to open it again as a SampleSource (rank 0).
io::SourceOptions inference_source_options(const po::variables_map& vm, const TrainedModel& trained,
                                           const ForeignData& foreign);

}  // namespace cbednet::app
