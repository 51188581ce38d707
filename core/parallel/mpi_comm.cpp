#include "core/parallel/mpi_comm.hpp"

#include <string>

#include "core/error.hpp"

namespace cbednet {

void check_mpi_call(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw_error<BackendError>("MPI ", what, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

MpiComm::~MpiComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  // A destructor must not throw; after MPI_Finalize the handle is gone anyway.
  if (comm_ != MPI_COMM_NULL && comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_SELF && !finalized) MPI_Comm_free(&comm_);
}

MpiComm& MpiComm::operator=(MpiComm&& other) noexcept {
  if (this != &other) {
    MpiComm old(comm_);
    comm_ = other.comm_;
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

int MpiComm::rank() const {
  int r = 0;
  check_mpi_call(MPI_Comm_rank(comm_, &r), "MPI_Comm_rank");
  return r;
}

int MpiComm::size() const {
  int s = 0;
  check_mpi_call(MPI_Comm_size(comm_, &s), "MPI_Comm_size");
  return s;
}

MpiComm duplicate_comm(MPI_Comm parent, const char* purpose) {
  MPI_Comm copy = MPI_COMM_NULL;
  check_mpi_call(MPI_Comm_dup(parent, &copy), purpose);
  return MpiComm(copy);
}

}  // namespace cbednet
