// What train, evaluate and predict share: data options (preprocessing, views), backend options, class tables.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/options.hpp"
#include "core/metrics.hpp"
#include "core/parallel/hybrid_trainer.hpp"
#include "core/train/views.hpp"
#include "io/hdf5/loader.hpp"
#include "kernels/backend.hpp"

namespace cbednet::app {

// --log-scale, --downsample, --views, --skip-bad
po::options_description data_options();
io::Preprocess preprocess_from(const po::variables_map& vm);

// --device, --precision, --threads
po::options_description backend_options();
BackendOptions backend_options_from(const po::variables_map& vm);

// Loader for evaluation: every sample once, in file order, the last batch split across ranks.
io::LoaderOptions evaluation_loader_options(const io::Preprocess& preprocess, const std::string& split,
                                            std::size_t batch, int ranks, bool skip_bad);

// --grid, --micro-batch-size, --schedule, --balance, --bucket-mb, --transport: how ranks share a step (train and
// bench alike).
po::options_description parallel_options();
struct ParallelChoice {
  int stages = 1, replicas = 1;  // --grid PxD (default 1 x the ranks)
  std::int64_t micro_batch = 0;  // 0: a replica's whole share
  HybridOptions hybrid;
  bool grid_given = false;  // --grid was on the command line
};
ParallelChoice parallel_options_from(const po::variables_map& vm, int ranks);

// Crystal system (0..6) and point group (0..31) of class c = space group c + 1, for the 230-class problem.
std::vector<int> class_to_crystal_system(int classes);
std::vector<int> class_to_point_group(int classes);
// An empty metrics accumulator with those tables (top-1 ... point-group accuracy).
MetricsAccumulator metrics_for(int classes);

}  // namespace cbednet::app
