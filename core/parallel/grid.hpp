// Process grid for hybrid pipeline x data parallelism: world = P stages x D replicas.
//
// Layout (pipelines contiguous): world rank r = d * P + s  ->  stage s = r % P, replica d = r / P.
// The P ranks of one pipeline are neighbours in rank order, so with the usual block placement of ranks on nodes
// the point-to-point activation traffic (every micro-batch) stays inside a node, while each stage's
// data-parallel group (D ranks, stride P) carries only one gradient reduction per step.
//
//   pipeline()  the P ranks of replica d, ordered by stage (rank in it = s)
//   replicas()  the D ranks holding stage s, ordered by replica (rank in it = d)
#pragma once

#include <mpi.h>

#include <string>

#include "core/parallel/mpi_comm.hpp"

namespace cbednet {

// "PxD" (e.g. "2x4") -> {P, D}; throws InvalidArgument naming --grid when malformed or not positive.
struct GridShape {
  int stages = 1;    // P
  int replicas = 1;  // D
};
GridShape parse_grid(const std::string& text);

class Grid {
 public:
  // Collective over `world`. Throws InvalidArgument (on every rank: the check is local) naming --grid when
  // P x D differs from the number of ranks.
  Grid(MPI_Comm world, int stages, int replicas);
  Grid(MPI_Comm world, GridShape shape) : Grid(world, shape.stages, shape.replicas) {}

  int stages() const { return stages_; }
  int replicas() const { return replicas_; }
  int stage() const { return stage_; }
  int replica() const { return replica_; }
  int world_rank() const { return world_rank_; }
  MPI_Comm world() const { return world_; }
  MPI_Comm pipeline() const { return pipeline_.get(); }
  MPI_Comm replicas_comm() const { return replicas_comm_.get(); }
  bool first_stage() const { return stage_ == 0; }
  bool last_stage() const { return stage_ == stages_ - 1; }
  // World rank of (stage, replica).
  int rank_of(int stage, int replica) const { return replica * stages_ + stage; }
  std::string describe() const;  // "grid 2x2: rank 3 = stage 1, replica 1"

 private:
  MPI_Comm world_;
  int stages_, replicas_, world_rank_ = 0, stage_ = 0, replica_ = 0;
  MpiComm pipeline_, replicas_comm_;
};

// Which process of this node this is, for binding a GPU: the launcher's local rank (OMPI_COMM_WORLD_LOCAL_RANK,
// MPI_LOCALRANKID, SLURM_LOCALID, PMIX_LOCAL_RANK...) when set, else the rank within
// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED). Collective over `world` (the split is always made, so every rank
// takes part whatever its environment says).
struct LocalRank {
  int rank = 0;
  int size = 1;        // ranks sharing this node (from the shared-memory split)
  std::string source;  // the variable used, or "MPI_COMM_TYPE_SHARED"
};
LocalRank local_rank(MPI_Comm world);

}  // namespace cbednet
