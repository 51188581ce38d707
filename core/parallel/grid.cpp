#include "core/parallel/grid.hpp"

#include <cstdlib>
#include <sstream>

#include "core/error.hpp"

namespace cbednet {

GridShape parse_grid(const std::string& text) {
  const auto x = text.find_first_of("xX");
  GridShape g;
  try {
    if (x == std::string::npos) throw std::invalid_argument("no x");
    std::size_t used_p = 0, used_d = 0;
    const std::string p = text.substr(0, x), d = text.substr(x + 1);
    g.stages = std::stoi(p, &used_p);
    g.replicas = std::stoi(d, &used_d);
    if (used_p != p.size() || used_d != d.size()) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    throw_error<InvalidArgument>("--grid '", text,
                                 "': expected PxD (pipeline stages x data-parallel replicas), e.g. 2x4");
  }
  if (g.stages < 1 || g.replicas < 1)
    throw_error<InvalidArgument>("--grid '", text, "': stages and replicas must be at least 1");
  return g;
}

Grid::Grid(MPI_Comm world, int stages, int replicas) : world_(world), stages_(stages), replicas_(replicas) {
  int size = 1;
  check_mpi_call(MPI_Comm_rank(world, &world_rank_), "MPI_Comm_rank");
  check_mpi_call(MPI_Comm_size(world, &size), "MPI_Comm_size");
  if (stages < 1 || replicas < 1)
    throw_error<InvalidArgument>("--grid ", stages, "x", replicas, ": stages and replicas must be at least 1");
  if (static_cast<long>(stages) * replicas != size)
    throw_error<InvalidArgument>("--grid ", stages, "x", replicas, " needs ", static_cast<long>(stages) * replicas,
                                 " ranks, but ", size, " are running (start P x D ranks)");
  stage_ = world_rank_ % stages;
  replica_ = world_rank_ / stages;
  MPI_Comm pipe = MPI_COMM_NULL, reps = MPI_COMM_NULL;
  check_mpi_call(MPI_Comm_split(world, replica_, stage_, &pipe), "MPI_Comm_split (pipeline)");
  pipeline_ = MpiComm(pipe);
  check_mpi_call(MPI_Comm_split(world, stage_, replica_, &reps), "MPI_Comm_split (stage replicas)");
  replicas_comm_ = MpiComm(reps);
}

std::string Grid::describe() const {
  std::ostringstream out;
  out << "grid " << stages_ << "x" << replicas_ << ": rank " << world_rank_ << " = stage " << stage_ << ", replica "
      << replica_;
  return out.str();
}

LocalRank local_rank(MPI_Comm world) {
  MPI_Comm shared = MPI_COMM_NULL;
  check_mpi_call(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &shared),
                 "MPI_Comm_split_type (shared)");
  const MpiComm node(shared);
  LocalRank out{node.rank(), node.size(), "MPI_COMM_TYPE_SHARED"};
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK",
                           "SLURM_LOCALID", "PMIX_LOCAL_RANK", "PALS_LOCAL_RANKID"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long r = std::strtol(value, &end, 10);
    if (end != nullptr && *end == '\0' && r >= 0) {
      out.rank = static_cast<int>(r);
      out.source = name;
      break;
    }
  }
  return out;
}

}  // namespace cbednet
