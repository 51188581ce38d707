#include "core/parallel/gather.hpp"

#include <climits>

#include "core/error.hpp"
#include "core/parallel/mpi_comm.hpp"

namespace cbednet {

std::vector<double> gather_on_root(std::span<const double> local, MPI_Comm comm, int root) {
  CBEDNET_REQUIRE(local.size() <= static_cast<std::size_t>(INT_MAX), InvalidArgument, "gather_on_root: ", local.size(),
                  " values on one rank exceed MPI's int count");
  int rank = 0, size = 0;
  check_mpi_call(MPI_Comm_rank(comm, &rank), "Comm_rank");
  check_mpi_call(MPI_Comm_size(comm, &size), "Comm_size");
  const int count = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(counts.size());
  check_mpi_call(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm), "Gather (counts)");
  std::vector<double> all;
  if (rank == root) {
    long long total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      offsets[r] = static_cast<int>(total);
      total += counts[r];
    }
    CBEDNET_REQUIRE(total <= INT_MAX, InvalidArgument, "gather_on_root: ", total, " values exceed MPI's int count");
    all.resize(static_cast<std::size_t>(total));
  }
  check_mpi_call(
      MPI_Gatherv(local.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, root, comm),
      "Gatherv");
  return all;
}

}  // namespace cbednet
