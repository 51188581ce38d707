// Point-to-point transfers of tensors between pipeline neighbours through a Transport (transport.hpp):
// non-blocking MPI with host staging of device tensors, or NCCL on device buffers. Every stage runs the same
// backend kind, so both sides agree on dtype and layout.
#pragma once

#include <vector>

#include "core/parallel/transport.hpp"

namespace cbednet {

class TensorPipe {
 public:
  // transport is borrowed: it outlives the pipe (the trainer owns it across steps).
  TensorPipe(Backend& backend, Transport& transport) : backend_(backend), transport_(transport) {}
  ~TensorPipe() = default;  // in-flight transfers only remain while an exception unwinds (then the job aborts)
  TensorPipe(const TensorPipe&) = delete;
  TensorPipe& operator=(const TensorPipe&) = delete;

  // Starts sending t to rank `to`; t's storage is kept alive until wait_sends().
  void send(const Tensor& t, int to, int tag);
  // Posts a receive of a tensor of `shape`, `dtype` and `layout` from `from`, into a buffer on the backend's
  // device, or on the host when on_host (labels). Returns a handle for take().
  int post_receive(Shape shape, int from, int tag, DType dtype, Layout layout, bool on_host = false);
  // Waits for a posted receive and returns the tensor (seconds waited added to *waited).
  Tensor take(int handle, double* waited);
  // Waits for every send started so far.
  void wait_sends(double* waited);

 private:
  struct Pending {
    Tensor buffer;
    Transfer transfer;
    bool open = false;
  };
  Backend& backend_;
  Transport& transport_;
  std::vector<Pending> sends_, receives_;
};

}  // namespace cbednet
