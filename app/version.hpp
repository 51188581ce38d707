#pragma once
#include <string>

namespace cbednet::app {
// CBEDNet's version and those of CUDA, cuDNN, NCCL, MPI and HDF5 it was built with (and runs with).
std::string version_text();
}  // namespace cbednet::app
