// Transport: how tensors cross ranks in the hybrid trainer. The pipeline (p2p.hpp) and the data-parallel
// reducer (grad_reducer.hpp) only see this interface, so the CPU exactness tests run the very code path that
// the GPU transport plugs into.
//
//   MpiTransport   (mpi_transport.hpp)        non-blocking MPI; device tensors are staged through host copies
//   NcclTransport  (nccl_transport.hpp, CUDA builds)  NCCL on device buffers, own CUDA streams
//
// Every operation is non-blocking and returns a Transfer handle; handles may be tested and waited in any order.
// Ordering contract (what NCCL needs, and MPI tolerates): between two ranks, the sends of one and the receives
// of the other are issued in the same order, and every rank of the communicator starts its allreduces in the
// same order with the same ranges. Tags are checked by MPI only.
//
// Selection rule (docs/parallel.md, "Transports"): choose_transport() below.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "kernels/backend.hpp"

namespace cbednet {

// One operation in flight, owned by a Transfer.
class TransferRequest {
 public:
  virtual ~TransferRequest() = default;
  // True once complete (the destination then holds the data); never blocks.
  virtual bool test() = 0;
  // Blocks until complete.
  virtual void wait() = 0;
};

// Move-only handle of one operation. A default-constructed Transfer is already complete.
class Transfer {
 public:
  Transfer() = default;
  explicit Transfer(std::unique_ptr<TransferRequest> request) : request_(std::move(request)) {}
  // The request's destructor does not wait: a handle dropped while in flight only happens while an
  // exception unwinds, and waiting then could hang on a failed peer.
  ~Transfer() = default;
  Transfer(Transfer&&) noexcept = default;
  Transfer& operator=(Transfer&&) noexcept = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  bool done() const { return request_ == nullptr; }
  // True when complete (repeatable); drives progress of the underlying library.
  bool test() {
    if (request_ != nullptr && request_->test()) request_.reset();
    return request_ == nullptr;
  }
  void wait() {
    if (request_ != nullptr) request_->wait();
    request_.reset();
  }

 private:
  std::unique_ptr<TransferRequest> request_;
};

enum class TransportKind : std::uint8_t { mpi, nccl };
// --transport: auto picks by the rule of choose_transport.
enum class TransportChoice : std::uint8_t { automatic, mpi, nccl };

const char* to_string(TransportKind kind);
const char* to_string(TransportChoice choice);
// "auto", "mpi" or "nccl"; throws InvalidArgument naming --transport otherwise.
TransportChoice parse_transport(const std::string& text);

class Transport {
 public:
  virtual ~Transport() = default;
  virtual TransportKind kind() const = 0;
  virtual MPI_Comm comm() const = 0;
  int rank() const;
  int size() const;

  // Starts sending t's bytes to `peer` (rank in comm()). The handle keeps t's storage alive; t must not be
  // written until the send completes.
  virtual Transfer send(const Tensor& t, int peer, int tag) = 0;
  // Starts receiving into dst (allocated by the caller with the sender's shape, dtype and layout, on any
  // device). The handle keeps dst's storage alive; dst holds the data once the handle completes.
  virtual Transfer receive(Tensor& dst, int peer, int tag) = 0;
  // Starts summing elements [begin, end) of t (flat, in memory order) over every rank of comm(), in place.
  // t must be f32 or f64 (NCCL also takes bf16 and f16). An empty range communicates nothing.
  virtual Transfer allreduce_sum(Tensor& t, std::int64_t begin, std::int64_t end) = 0;
};

// What a transport will carry; NCCL creates per-neighbour communicators only when point-to-point is wanted.
enum class TransportUse : std::uint8_t { point_to_point, allreduce };

// The pure selection rule. device_ids: one entry per rank of the communicator, the identity (UUID) of the GPU
// the rank is bound to, or "" for a rank without one. Returns:
//   mpi   when requested, or when auto and (the backend is not CUDA, NCCL is not built, the communicator has one
//         rank, some rank has no GPU, or two ranks share one GPU: NCCL refuses that);
//   nccl  when requested or auto and every rank has its own GPU.
// An explicit nccl request that cannot be honoured throws InvalidArgument naming --transport and the reason.
// `what` names the communicator in messages ("pipeline", "data-parallel").
TransportKind choose_transport(TransportChoice requested, bool cuda_backend, bool nccl_built,
                               const std::vector<std::string>& device_ids, const std::string& what);

// Collective over comm: gathers every rank's device identity, applies choose_transport and builds the
// transport (NCCL communicator creation is collective too). backend must outlive the transport.
std::unique_ptr<Transport> make_transport(Backend& backend, MPI_Comm comm, TransportChoice requested, TransportUse use,
                                          const std::string& what);

// Throws InvalidArgument naming the operation, the peer and the communicator size unless 0 <= peer < size.
void require_peer(int peer, int size, const char* op);

}  // namespace cbednet
