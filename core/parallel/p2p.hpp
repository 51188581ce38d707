// Point-to-point transfers of tensors between pipeline neighbours with non-blocking MPI. Device tensors are
// staged through host copies (same dtype and layout on both sides: every stage runs the same backend kind).
#pragma once

#include <mpi.h>

#include <vector>

#include "core/tensor.hpp"
#include "kernels/backend.hpp"

namespace cbednet {

class TensorPipe {
 public:
  TensorPipe(Backend& backend, MPI_Comm comm) : backend_(backend), comm_(comm) {}
  ~TensorPipe() = default;  // in-flight requests only remain while an exception unwinds (then the job aborts)
  TensorPipe(const TensorPipe&) = delete;
  TensorPipe& operator=(const TensorPipe&) = delete;

  // Starts sending t to rank `to`; t (or its host copy) is kept alive until wait_sends().
  void send(const Tensor& t, int to, int tag);
  // Posts a receive of a tensor of `shape` (backend dtype and layout, or `dtype` when given) from `from`.
  // Returns a handle for take().
  int post_receive(Shape shape, int from, int tag, DType dtype, Layout layout);
  // Waits for a posted receive and returns the tensor on the backend's device, or on the host when
  // keep_on_host (seconds waited added to *waited).
  Tensor take(int handle, double* waited, bool keep_on_host = false);
  // Waits for every send started so far.
  void wait_sends(double* waited);

 private:
  struct Pending {
    Tensor host;
    MPI_Request request = MPI_REQUEST_NULL;
    bool open = false;
  };
  Backend& backend_;
  MPI_Comm comm_;
  std::vector<Pending> sends_, receives_;
};

}  // namespace cbednet
