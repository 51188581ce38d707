#include "core/parallel/p2p.hpp"

#include <chrono>
#include <climits>

#include "core/parallel/grid.hpp"

namespace cbednet {

namespace {
int message_bytes(const Tensor& t) {
  CBEDNET_REQUIRE(t.bytes() <= static_cast<std::size_t>(INT_MAX), InvalidArgument, "pipeline message of ", t.bytes(),
                  " bytes (", t.describe(), ") exceeds one MPI message; lower --micro-batch-size");
  return static_cast<int>(t.bytes());
}
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

void TensorPipe::send(const Tensor& t, int to, int tag) {
  Pending p;
  if (t.device() == Device::host) {
    p.host = t.view();  // block outputs are fresh, contiguous allocations
  } else {
    p.host = Tensor(t.shape(), t.dtype(), t.layout());
    backend_.copy(t, p.host);
  }
  check_mpi_call(MPI_Isend(p.host.raw(), message_bytes(p.host), MPI_BYTE, to, tag, comm_, &p.request), "MPI_Isend");
  p.open = true;
  // Drop completed sends so that their buffers are freed during long steps.
  for (auto& s : sends_)
    if (s.open) {
      int done = 0;
      check_mpi_call(MPI_Test(&s.request, &done, MPI_STATUS_IGNORE), "MPI_Test (send)");
      if (done) {
        s.open = false;
        s.host = Tensor();
      }
    }
  std::erase_if(sends_, [](const Pending& s) { return !s.open; });
  sends_.push_back(std::move(p));
}

int TensorPipe::post_receive(Shape shape, int from, int tag, DType dtype, Layout layout) {
  Pending p;
  p.host = Tensor(shape, dtype, layout);
  check_mpi_call(MPI_Irecv(p.host.raw(), message_bytes(p.host), MPI_BYTE, from, tag, comm_, &p.request), "MPI_Irecv");
  p.open = true;
  for (std::size_t i = 0; i < receives_.size(); ++i)
    if (!receives_[i].open) {
      receives_[i] = std::move(p);
      return static_cast<int>(i);
    }
  receives_.push_back(std::move(p));
  return static_cast<int>(receives_.size() - 1);
}

Tensor TensorPipe::take(int handle, double* waited, bool keep_on_host) {
  Pending& p = receives_.at(static_cast<std::size_t>(handle));
  CBEDNET_ASSERT(p.open);
  const auto t0 = std::chrono::steady_clock::now();
  check_mpi_call(MPI_Wait(&p.request, MPI_STATUS_IGNORE), "MPI_Wait (receive)");
  if (waited != nullptr) *waited += seconds_since(t0);
  p.open = false;
  Tensor host = std::move(p.host);
  if (keep_on_host || backend_.device() == Device::host) return host;
  Tensor out = backend_.allocate(host.shape(), host.dtype(), host.layout());
  backend_.copy(host, out);
  return out;
}

void TensorPipe::wait_sends(double* waited) {
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& s : sends_)
    if (s.open) check_mpi_call(MPI_Wait(&s.request, MPI_STATUS_IGNORE), "MPI_Wait (send)");
  sends_.clear();
  if (waited != nullptr) *waited += seconds_since(t0);
}

}  // namespace cbednet
