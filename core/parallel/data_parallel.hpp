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

// The sum over the whole model of per-tensor values (the optimizer's gradient sums of squares for global-norm
// clipping) when each rank of `pipeline` holds one stage's tensors, `mine` in model order: every stage's values are
// gathered in pipeline order and added in model order, so the total is bit-identical for every P (and replicas,
// whose reduced gradients are equal, agree too). Collective over pipeline.
double sum_over_pipeline(const std::vector<double>& mine, MPI_Comm pipeline);

// Throws InvalidArgument on every rank if `text` (e.g. the resolved configuration) differs between ranks,
// naming the first rank that differs from rank 0.
void require_same_on_all_ranks(const std::string& text, const std::string& what, MPI_Comm comm);

}  // namespace cbednet
