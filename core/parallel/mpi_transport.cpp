#include "core/parallel/mpi_transport.hpp"

#include <climits>

#include "core/parallel/grid.hpp"

namespace cbednet {

namespace {

int message_bytes(const Tensor& t, const char* op, int peer) {
  CBEDNET_REQUIRE(t.bytes() <= static_cast<std::size_t>(INT_MAX), InvalidArgument, op, " with rank ", peer,
                  ": message of ", t.bytes(), " bytes (", t.describe(),
                  ") exceeds one MPI message; lower --micro-batch-size");
  return static_cast<int>(t.bytes());
}

MPI_Datatype mpi_sum_type(DType dtype) {
  switch (dtype) {
    case DType::f64:
      return MPI_DOUBLE;
    case DType::f32:
      return MPI_FLOAT;
    default:
      throw_error<InvalidArgument>("MPI allreduce of ", to_string(dtype), " buffers is not supported (f32, f64)");
  }
}

Tensor flat_range(const Tensor& t, std::int64_t begin, std::int64_t end) {
  return t.view({1, end - begin, 1, 1}, begin);
}

// One MPI request. `host` is the buffer MPI reads or writes, kept alive until completion; when `device` is
// not empty, host is copied into it once the request completes (receives and allreduces of device tensors).
class MpiRequest final : public TransferRequest {
 public:
  MpiRequest(Backend& backend, Tensor host, Tensor device, const char* what)
      : backend_(backend), host_(std::move(host)), device_(std::move(device)), what_(what) {}
  MPI_Request* request() { return &request_; }
  void* buffer() { return host_.raw(); }

  bool test() override {
    if (!finished_) {
      int done = 0;
      check_mpi_call(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), what_);
      if (done == 0) return false;
      complete();
    }
    return true;
  }
  void wait() override {
    if (finished_) return;
    check_mpi_call(MPI_Wait(&request_, MPI_STATUS_IGNORE), what_);
    complete();
  }

 private:
  void complete() {
    finished_ = true;
    if (!device_.empty()) backend_.copy(host_, device_);
    host_ = Tensor();
    device_ = Tensor();
  }

  Backend& backend_;
  Tensor host_, device_;
  const char* what_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool finished_ = false;
};

}  // namespace

Transfer MpiTransport::send(const Tensor& t, int peer, int tag) {
  require_peer(peer, size(), "MPI send");
  Tensor host;
  if (t.device() == Device::host) {
    host = t.view();  // tensors are contiguous: a view keeps the storage alive while MPI reads it
  } else {
    host = Tensor(t.shape(), t.dtype(), t.layout());
    backend_.copy(t, host);
  }
  const int bytes = message_bytes(host, "MPI send", peer);
  auto request = std::make_unique<MpiRequest>(backend_, std::move(host), Tensor(), "MPI_Test/MPI_Wait (send)");
  check_mpi_call(MPI_Isend(request->buffer(), bytes, MPI_BYTE, peer, tag, comm_, request->request()), "MPI_Isend");
  return Transfer(std::move(request));
}

Transfer MpiTransport::receive(Tensor& dst, int peer, int tag) {
  require_peer(peer, size(), "MPI receive");
  const bool on_host = dst.device() == Device::host;
  Tensor host = on_host ? dst.view() : Tensor(dst.shape(), dst.dtype(), dst.layout());
  const int bytes = message_bytes(host, "MPI receive", peer);
  auto request = std::make_unique<MpiRequest>(backend_, std::move(host), on_host ? Tensor() : dst.view(),
                                              "MPI_Test/MPI_Wait (receive)");
  check_mpi_call(MPI_Irecv(request->buffer(), bytes, MPI_BYTE, peer, tag, comm_, request->request()), "MPI_Irecv");
  return Transfer(std::move(request));
}

Transfer MpiTransport::allreduce_sum(Tensor& t, std::int64_t begin, std::int64_t end) {
  CBEDNET_REQUIRE(0 <= begin && begin <= end && end <= t.count(), InvalidArgument, "MPI allreduce: range [", begin,
                  ", ", end, ") outside ", t.describe());
  const MPI_Datatype type = mpi_sum_type(t.dtype());
  CBEDNET_REQUIRE(end - begin <= INT_MAX, InvalidArgument, "MPI allreduce of ", end - begin,
                  " elements is too large for one MPI call; lower --bucket-mb");
  if (begin == end) return Transfer();  // every rank has the same range: all skip alike
  Tensor range = flat_range(t, begin, end);
  const bool on_host = t.device() == Device::host;
  Tensor host;
  if (on_host) {
    host = range.view();
  } else {
    host = Tensor(range.shape(), range.dtype());
    backend_.copy(range, host);
  }
  auto request = std::make_unique<MpiRequest>(backend_, std::move(host), on_host ? Tensor() : std::move(range),
                                              "MPI_Test/MPI_Wait (allreduce)");
  check_mpi_call(MPI_Iallreduce(MPI_IN_PLACE, request->buffer(), static_cast<int>(end - begin), type, MPI_SUM, comm_,
                                request->request()),
                 "MPI_Iallreduce");
  return Transfer(std::move(request));
}

}  // namespace cbednet
