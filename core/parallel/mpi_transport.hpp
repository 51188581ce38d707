// MpiTransport: the Transport of transport.hpp over non-blocking MPI (MPI_Isend/MPI_Irecv of raw bytes,
// MPI_Iallreduce in place). Tensors on a device travel through host copies made with the backend: a send
// copies to the host before MPI_Isend; a receive lands in a host buffer and is copied to the device when the
// handle completes; an allreduce copies its range out, reduces it on the host and copies it back on completion.
// This is the path of CPU backends and of ranks that share one GPU.
#pragma once

#include "core/parallel/transport.hpp"

namespace cbednet {

class MpiTransport final : public Transport {
 public:
  // comm is borrowed (must outlive the transport); backend makes the host copies of device tensors.
  MpiTransport(Backend& backend, MPI_Comm comm) : backend_(backend), comm_(comm) {}

  TransportKind kind() const override { return TransportKind::mpi; }
  MPI_Comm comm() const override { return comm_; }
  Transfer send(const Tensor& t, int peer, int tag) override;
  Transfer receive(Tensor& dst, int peer, int tag) override;
  Transfer allreduce_sum(Tensor& t, std::int64_t begin, std::int64_t end) override;

 private:
  Backend& backend_;
  MPI_Comm comm_;
};

}  // namespace cbednet
