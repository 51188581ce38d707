#include "core/parallel/nccl_transport.hpp"

#include <nccl.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <exception>
#include <thread>
#include <utility>

#include "core/parallel/mpi_comm.hpp"
#include "core/parallel/mpi_transport.hpp"
#include "kernels/cuda/compute_stream.hpp"
#include "kernels/cuda/cuda_handles.hpp"

namespace cbednet {

namespace {

using cuda::EventHandle;
using cuda::StreamHandle;

// What a failing call was doing, for messages: "allreduce with the group, communicator of 4 ranks".
struct Context {
  const char* op;
  int peer;  // -1: the whole group
  int size;
};

std::string describe(const Context& c) {
  std::string s = c.op;
  s += c.peer >= 0 ? " with peer rank " + std::to_string(c.peer) : std::string(" over the group");
  return s + ", communicator of " + std::to_string(c.size) + " ranks";
}

[[noreturn]] void throw_nccl(ncclResult_t r, ncclComm_t comm, const char* call, const Context& c) {
  const char* last = ncclGetLastError(comm);
  throw_error<BackendError>("NCCL ", call, " failed (", describe(c), "): ", ncclGetErrorString(r),
                            last != nullptr && *last != '\0' ? std::string(": ") + last : std::string());
}

#define CBEDNET_NCCL(ctx, comm, call)                                              \
  do {                                                                             \
    const ncclResult_t cbednet_nr_ = (call);                                       \
    if (cbednet_nr_ != ncclSuccess) throw_nccl(cbednet_nr_, (comm), #call, (ctx)); \
  } while (0)

ncclDataType_t nccl_type(DType dtype, const Context& c) {
  switch (dtype) {
    case DType::f64:
      return ncclFloat64;
    case DType::f32:
      return ncclFloat32;
    case DType::bf16:
      return ncclBfloat16;
    case DType::f16:
      return ncclFloat16;
    default:
      throw_error<InvalidArgument>("NCCL ", describe(c), ": ", to_string(dtype), " sums are not supported");
  }
}

// Owns an ncclComm_t. Destroyed normally, or aborted when an error was seen or an exception is unwinding
// (ncclCommDestroy would wait for operations that a failed peer never completes).
class NcclComm {
 public:
  NcclComm() = default;
  // Collective over mpi (which must not be MPI_COMM_NULL).
  NcclComm(MPI_Comm mpi, const char* what) {
    int rank = 0;
    check_mpi_call(MPI_Comm_rank(mpi, &rank), "MPI_Comm_rank");
    check_mpi_call(MPI_Comm_size(mpi, &size_), "MPI_Comm_size");
    // Rank 0's failure to make the id travels with it, so that no rank waits in ncclCommInitRank for nothing.
    struct {
      ncclUniqueId id;
      int status;
    } root{};
    if (rank == 0) root.status = static_cast<int>(ncclGetUniqueId(&root.id));
    check_mpi_call(MPI_Bcast(&root, sizeof root, MPI_BYTE, 0, mpi), "MPI_Bcast (NCCL unique id)");
    const Context c{what, -1, size_};
    if (root.status != ncclSuccess) throw_nccl(static_cast<ncclResult_t>(root.status), nullptr, "ncclGetUniqueId", c);
    CBEDNET_NCCL(c, nullptr, ncclCommInitRank(&comm_, size_, root.id, rank));
  }
  ~NcclComm() { reset(); }
  NcclComm(NcclComm&& o) noexcept : comm_(std::exchange(o.comm_, nullptr)), size_(o.size_), failed_(o.failed_) {}
  NcclComm& operator=(NcclComm&& o) noexcept {
    if (this != &o) {
      reset();
      comm_ = std::exchange(o.comm_, nullptr);
      size_ = o.size_;
      failed_ = o.failed_;
    }
    return *this;
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  ncclComm_t get() const { return comm_; }
  int size() const { return size_; }
  explicit operator bool() const { return comm_ != nullptr; }

  // Throws (and marks the communicator for abort) when NCCL reported an asynchronous failure.
  void check_async(const Context& c) {
    ncclResult_t state = ncclSuccess;
    CBEDNET_NCCL(c, comm_, ncclCommGetAsyncError(comm_, &state));
    if (state != ncclSuccess && state != ncclInProgress) {
      failed_ = true;
      throw_nccl(state, comm_, "ncclCommGetAsyncError", c);
    }
  }
  void mark_failed() { failed_ = true; }

 private:
  void reset() {
    if (comm_ == nullptr) return;
    if (failed_ || std::uncaught_exceptions() > 0)
      static_cast<void>(ncclCommAbort(comm_));
    else
      static_cast<void>(ncclCommDestroy(comm_));
    comm_ = nullptr;
  }

  ncclComm_t comm_ = nullptr;
  int size_ = 0;
  bool failed_ = false;
};

// A communicator and the stream its operations run on. peer: the other rank's index in a 2-rank edge.
struct Lane {
  NcclComm comm;
  StreamHandle stream;
  int peer = -1;
};

// State of one NCCL operation: issued once its stream work is queued (a self-send waits for its receive).
struct OpState {
  Tensor keep;  // the buffer, alive until the operation completes
  EventHandle done;
  bool issued = false;
  NcclComm* comm = nullptr;
  Context context{"", -1, 0};
};

class NcclRequest final : public TransferRequest {
 public:
  explicit NcclRequest(std::shared_ptr<OpState> state) : state_(std::move(state)) {}
  bool test() override {
    OpState& s = *state_;
    if (!s.issued) return false;
    if (s.done) {
      const cudaError_t e = cudaEventQuery(s.done.get());
      if (e == cudaErrorNotReady) {
        s.comm->check_async(s.context);
        return false;
      }
      CBEDNET_CUDA(describe(s.context), e);
    }
    s.keep = Tensor();
    return true;
  }
  void wait() override {
    CBEDNET_REQUIRE(state_->issued, Error, "NCCL ", describe(state_->context),
                    ": waiting for a transfer to self whose matching send/receive was never posted");
    // Polling rather than cudaEventSynchronize: ncclCommGetAsyncError turns a failed peer into an error.
    while (!test()) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }

 private:
  std::shared_ptr<OpState> state_;
};

class NcclTransport final : public Transport {
 public:
  // backend: a CUDA backend (for the MPI fallback; compute_stream its stream).
  NcclTransport(Backend& backend, cudaStream_t compute_stream, MPI_Comm comm, TransportUse use);
  TransportKind kind() const override { return TransportKind::nccl; }
  MPI_Comm comm() const override { return comm_; }
  Transfer send(const Tensor& t, int peer, int tag) override;
  Transfer receive(Tensor& dst, int peer, int tag) override;
  Transfer allreduce_sum(Tensor& t, std::int64_t begin, std::int64_t end) override;

 private:
  // Makes lane's stream wait for everything queued so far on the compute stream.
  void after_compute(Lane& lane, const Context& c);
  std::shared_ptr<OpState> start_state(const Tensor& buffer, Lane& lane, const Context& c);
  void finish_issue(OpState& s, Lane& lane);
  void pair_self();
  Lane* lane_for(int peer, bool sending);

  cudaStream_t compute_stream_;  // the backend's: every operation waits for the work queued on it
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  MpiTransport fallback_;
  EventHandle compute_mark_;
  Lane group_;
  Lane send_next_, recv_next_, send_prev_, recv_prev_;
  // Self-transfers waiting for their partner, in posting order.
  std::deque<std::shared_ptr<OpState>> self_sends_, self_receives_;
};

int stream_device(cudaStream_t stream) {
  int device = 0;
  CBEDNET_CUDA("NCCL transport: device of the compute stream", cudaStreamGetDevice(stream, &device));
  return device;
}

NcclTransport::NcclTransport(Backend& backend, cudaStream_t compute_stream, MPI_Comm comm, TransportUse use)
    : compute_stream_(compute_stream), comm_(comm), fallback_(backend, comm) {
  check_mpi_call(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
  check_mpi_call(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
  // NCCL binds a communicator to the current device.
  CBEDNET_CUDA("NCCL transport setup", cudaSetDevice(stream_device(compute_stream_)));
  compute_mark_ = cuda::make_event("NCCL transport setup");
  group_.comm = NcclComm(comm, "communicator creation");
  group_.stream = cuda::make_stream("NCCL transport setup");
  if (use != TransportUse::point_to_point) return;
  // Edge (a, a+1) for a of one parity at a time: each rank is in at most one edge per round, and both ranks of
  // an edge create it in the same round (ncclCommInitRank waits for all members).
  for (int parity = 0; parity < 2; ++parity)
    for (int up = 1; up >= 0; --up) {
      int a = -1;
      if (rank_ % 2 == parity && rank_ + 1 < size_) a = rank_;
      if ((rank_ - 1 + 2) % 2 == parity && rank_ >= 1) a = rank_ - 1;
      MPI_Comm edge = MPI_COMM_NULL;
      check_mpi_call(MPI_Comm_split(comm, a >= 0 ? a : MPI_UNDEFINED, rank_, &edge), "MPI_Comm_split (NCCL edges)");
      if (a < 0) continue;
      const MpiComm owned(edge);
      const bool lower = a == rank_;  // index 0 in the edge
      Lane& lane = up ? (lower ? send_next_ : recv_prev_) : (lower ? recv_next_ : send_prev_);
      lane.comm = NcclComm(edge, "neighbour communicator creation");
      lane.stream = cuda::make_stream("NCCL transport setup");
      lane.peer = lower ? 1 : 0;
    }
}

Lane* NcclTransport::lane_for(int peer, bool sending) {
  if (peer == rank_ + 1) return sending ? &send_next_ : &recv_next_;
  if (peer == rank_ - 1) return sending ? &send_prev_ : &recv_prev_;
  return nullptr;
}

void NcclTransport::after_compute(Lane& lane, const Context& c) {
  CBEDNET_CUDA(describe(c), cudaEventRecord(compute_mark_.get(), compute_stream_));
  CBEDNET_CUDA(describe(c), cudaStreamWaitEvent(lane.stream.get(), compute_mark_.get(), 0));
}

std::shared_ptr<OpState> NcclTransport::start_state(const Tensor& buffer, Lane& lane, const Context& c) {
  auto s = std::make_shared<OpState>();
  s->keep = buffer.view();
  s->comm = &lane.comm;
  s->context = c;
  return s;
}

void NcclTransport::finish_issue(OpState& s, Lane& lane) {
  s.done = cuda::make_event(s.context.op);
  CBEDNET_CUDA(describe(s.context), cudaEventRecord(s.done.get(), lane.stream.get()));
  s.issued = true;
}

// Sends and receives to self pair up in posting order; NCCL needs both in one group, else the send blocks.
void NcclTransport::pair_self() {
  while (!self_sends_.empty() && !self_receives_.empty()) {
    auto snd = self_sends_.front(), rcv = self_receives_.front();
    self_sends_.pop_front();
    self_receives_.pop_front();
    const Context& c = snd->context;
    CBEDNET_REQUIRE(snd->keep.bytes() == rcv->keep.bytes(), InvalidArgument, "NCCL ", describe(c), ": sending ",
                    snd->keep.describe(), " into ", rcv->keep.describe());
    after_compute(group_, c);
    ncclComm_t comm = group_.comm.get();
    CBEDNET_NCCL(c, comm, ncclGroupStart());
    const ncclResult_t a = ncclSend(snd->keep.raw(), snd->keep.bytes(), ncclUint8, rank_, comm, group_.stream.get());
    const ncclResult_t b = ncclRecv(rcv->keep.raw(), rcv->keep.bytes(), ncclUint8, rank_, comm, group_.stream.get());
    const ncclResult_t e = ncclGroupEnd();  // always closes the group, even after a failed call inside it
    if (a != ncclSuccess) throw_nccl(a, comm, "ncclSend", c);
    if (b != ncclSuccess) throw_nccl(b, comm, "ncclRecv", rcv->context);
    if (e != ncclSuccess) throw_nccl(e, comm, "ncclGroupEnd", c);
    finish_issue(*snd, group_);
    finish_issue(*rcv, group_);
  }
}

Transfer NcclTransport::send(const Tensor& t, int peer, int tag) {
  require_peer(peer, size_, "NCCL send");
  Lane* lane = lane_for(peer, true);
  if (t.device() == Device::host || (lane == nullptr && peer != rank_) || (lane != nullptr && !lane->comm))
    return fallback_.send(t, peer, tag);
  const Context c{"send", peer, size_};
  if (peer == rank_) {
    auto s = start_state(t, group_, c);
    self_sends_.push_back(s);
    pair_self();
    return Transfer(std::make_unique<NcclRequest>(std::move(s)));
  }
  auto s = start_state(t, *lane, c);
  if (t.bytes() > 0) {
    after_compute(*lane, c);
    CBEDNET_NCCL(c, lane->comm.get(),
                 ncclSend(t.raw(), t.bytes(), ncclUint8, lane->peer, lane->comm.get(), lane->stream.get()));
  }
  finish_issue(*s, *lane);
  return Transfer(std::make_unique<NcclRequest>(std::move(s)));
}

Transfer NcclTransport::receive(Tensor& dst, int peer, int tag) {
  require_peer(peer, size_, "NCCL receive");
  Lane* lane = lane_for(peer, false);
  if (dst.device() == Device::host || (lane == nullptr && peer != rank_) || (lane != nullptr && !lane->comm))
    return fallback_.receive(dst, peer, tag);
  const Context c{"receive", peer, size_};
  if (peer == rank_) {
    auto s = start_state(dst, group_, c);
    self_receives_.push_back(s);
    pair_self();
    return Transfer(std::make_unique<NcclRequest>(std::move(s)));
  }
  auto s = start_state(dst, *lane, c);
  if (dst.bytes() > 0) {
    after_compute(*lane, c);  // dst may be memory the compute stream used just before
    CBEDNET_NCCL(c, lane->comm.get(),
                 ncclRecv(dst.raw(), dst.bytes(), ncclUint8, lane->peer, lane->comm.get(), lane->stream.get()));
  }
  finish_issue(*s, *lane);
  return Transfer(std::make_unique<NcclRequest>(std::move(s)));
}

Transfer NcclTransport::allreduce_sum(Tensor& t, std::int64_t begin, std::int64_t end) {
  const Context c{"allreduce", -1, size_};
  CBEDNET_REQUIRE(0 <= begin && begin <= end && end <= t.count(), InvalidArgument, "NCCL ", describe(c), ": range [",
                  begin, ", ", end, ") outside ", t.describe());
  if (t.device() == Device::host) return fallback_.allreduce_sum(t, begin, end);
  const ncclDataType_t type = nccl_type(t.dtype(), c);
  if (begin == end) return Transfer();  // every rank has the same range: all skip alike
  auto s = start_state(t, group_, c);
  void* data = static_cast<std::byte*>(t.raw()) + static_cast<std::size_t>(begin) * dtype_size(t.dtype());
  after_compute(group_, c);
  CBEDNET_NCCL(c, group_.comm.get(),
               ncclAllReduce(data, data, static_cast<std::size_t>(end - begin), type, ncclSum, group_.comm.get(),
                             group_.stream.get()));
  finish_issue(*s, group_);
  return Transfer(std::make_unique<NcclRequest>(std::move(s)));
}

}  // namespace

std::string cuda_device_identity(Backend& backend) {
  const int device = stream_device(cuda::compute_stream(backend, "cuda_device_identity"));
  cudaDeviceProp prop{};
  CBEDNET_CUDA("cuda_device_identity", cudaGetDeviceProperties(&prop, device));
  std::string id = "GPU-";
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(prop.uuid.bytes[i]));
    id += hex;
  }
  return id;
}

std::unique_ptr<Transport> make_nccl_transport(Backend& backend, MPI_Comm comm, TransportUse use) {
  return std::make_unique<NcclTransport>(backend, cuda::compute_stream(backend, "--transport nccl"), comm, use);
}

}  // namespace cbednet
