#include "app/mpi_session.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

namespace cbednet::app {

MpiSession::MpiSession(int& argc, char**& argv) { MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided_); }

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized == 0) MPI_Finalize();
}

int world_rank() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized == 0) return 0;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized == 0) return 1;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

void abort_all(const char* message, int code) {
  const int size = world_size();
  if (size > 1)
    std::fprintf(stderr, "cbednet: error on rank %d of %d: %s\n", world_rank(), size, message);
  else
    std::fprintf(stderr, "cbednet: error: %s\n", message);
  std::fflush(stderr);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  // Alone: exit without MPI_Finalize. After a failed write HDF5 1.10 keeps the file whose close failed and its
  // finalize-time close then crashes; nothing else is left to flush (stdout was flushed above).
  std::fflush(stdout);
  std::_Exit(code);
}

}  // namespace cbednet::app
