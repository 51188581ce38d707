// Variable-length gathers to one rank: each rank's rows of results (predictions, per-rank timings) collected in
// rank order on the root, for the one process that writes the output file.
#pragma once

#include <mpi.h>

#include <span>
#include <vector>

namespace cbednet {

// Concatenation of every rank's `local` in rank order on `root` (collective over comm); empty elsewhere.
std::vector<double> gather_on_root(std::span<const double> local, MPI_Comm comm, int root = 0);

}  // namespace cbednet
