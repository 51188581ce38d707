// What train, evaluate and predict share: data options (preprocessing, views), backend options, class tables.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/options.hpp"
#include "io/hdf5/loader.hpp"
#include "kernels/backend.hpp"

namespace cbednet::app {

// How the three projections of a sample reach the model.
enum class ViewMode {
  stack,   // the three projections as 3 channels
  random,  // training: one random projection per sample and epoch (1 channel); evaluation: the average of the
           // softmax over the three projections (test-time averaging)
};
ViewMode parse_views(const std::string& name);  // "stack" | "random"
const char* to_string(ViewMode views);

// --log-scale, --downsample, --views, --skip-bad
po::options_description data_options();
io::Preprocess preprocess_from(const po::variables_map& vm);

// --device, --precision, --threads
po::options_description backend_options();
BackendOptions backend_options_from(const po::variables_map& vm);

// Loader for evaluation: every sample once, in file order, the last batch split across ranks.
io::LoaderOptions evaluation_loader_options(const io::Preprocess& preprocess, const std::string& split,
                                            std::size_t batch, int ranks, bool skip_bad);

// Crystal system (0..6) and point group (0..31) of class c = space group c + 1, for the 230-class problem.
std::vector<int> class_to_crystal_system(int classes);
std::vector<int> class_to_point_group(int classes);

}  // namespace cbednet::app
