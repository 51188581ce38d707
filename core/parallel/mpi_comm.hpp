// Owned MPI communicators and checked MPI calls: what every MPI user in CBEDNet (the grid, the transports, the
// checkpoint gather, the HDF5 loader in io/) shares, so that communicator lifetimes are handled in one place.
#pragma once

#include <mpi.h>

namespace cbednet {

// Owns an MPI communicator (MPI_Comm_free on destruction); never owns MPI_COMM_WORLD/SELF.
class MpiComm {
 public:
  MpiComm() = default;
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {}
  ~MpiComm();
  MpiComm(MpiComm&& other) noexcept : comm_(other.comm_) { other.comm_ = MPI_COMM_NULL; }
  MpiComm& operator=(MpiComm&& other) noexcept;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  MPI_Comm get() const { return comm_; }
  int rank() const;
  int size() const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// An owned duplicate of `parent` (MPI_Comm_dup, collective over parent): a communicator no other code sends on,
// e.g. for the loader's I/O thread. `purpose` names it in the error message.
MpiComm duplicate_comm(MPI_Comm parent, const char* purpose);

// Throws BackendError "MPI <what> failed: <MPI's message>" for a failing MPI return code.
void check_mpi_call(int code, const char* what);

}  // namespace cbednet
