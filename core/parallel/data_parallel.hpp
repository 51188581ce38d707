// Plain data parallelism over MPI: after every replica has accumulated the gradients of its share of the global
// batch, the gradient buffer and the batch-norm statistic sums are summed across replicas (one allreduce each).
// Because the loss is normalised by the global batch, the sum is the serial gradient. (The bucketed,
// overlapped reducer and the pipeline belong to the hybrid P x D scheduler.)
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "core/model/param_store.hpp"

namespace cbednet {

// Sums `store`'s gradients and batch-norm accumulators over comm (in place). Device buffers travel through host
// staging copies.
void allreduce_gradients(ParamStore& store, MPI_Comm comm);

// Sums values over comm (in place): step statistics, metric counters.
void allreduce_sum(std::vector<double>& values, MPI_Comm comm);
void allreduce_sum(std::vector<std::int64_t>& values, MPI_Comm comm);

// Throws InvalidArgument on every rank if `text` (e.g. the resolved configuration) differs between ranks,
// naming the first rank that differs from rank 0.
void require_same_on_all_ranks(const std::string& text, const std::string& what, MPI_Comm comm);

}  // namespace cbednet
