// An owned duplicate of an MPI communicator (MPI_Comm_dup / MPI_Comm_free), so the loader's I/O thread has a
// communicator no other code sends on.
#pragma once

#include <mpi.h>

#include <utility>

#include "core/error.hpp"

namespace cbednet::io {

class DupComm {
 public:
  explicit DupComm(MPI_Comm parent) {
    if (MPI_Comm_dup(parent, &comm_) != MPI_SUCCESS) throw_error<BackendError>("MPI_Comm_dup failed");
  }
  ~DupComm() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && finalized == 0) MPI_Comm_free(&comm_);
  }
  DupComm(const DupComm&) = delete;
  DupComm& operator=(const DupComm&) = delete;
  MPI_Comm get() const { return comm_; }
  int rank() const {
    int r = 0;
    MPI_Comm_rank(comm_, &r);
    return r;
  }
  int size() const {
    int s = 1;
    MPI_Comm_size(comm_, &s);
    return s;
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace cbednet::io
