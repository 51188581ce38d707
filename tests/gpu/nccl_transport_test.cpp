// NcclTransport (core/parallel/nccl_transport.hpp) on one GPU with one rank (under mpiexec -n 1): in-place
// allreduce of device ranges (f32, f64, bf16) and send/receive to self (ncclSend/ncclRecv paired in one
// group), compared element by element with the MPI transport (host staging) on the same device buffers.
// Skipped without a CUDA device. Two ranks on one GPU must take the MPI path: the selection rule is checked
// here with this GPU's real identity reported twice (NCCL itself cannot be run that way).
#include "core/parallel/nccl_transport.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include "core/parallel/transport.hpp"
#include "kernels/backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"

using namespace cbednet;

namespace {

Tensor host_values(std::int64_t n, double offset) {
  Tensor t({1, n, 1, 1}, DType::f64);
  for (std::int64_t i = 0; i < n; ++i) t.data<double>()[i] = offset + 0.25 * static_cast<double>(i % 97);
  return t;
}

std::vector<double> download(Backend& b, const Tensor& t) {
  Tensor h(t.shape(), DType::f64);
  b.copy(t, h);
  return {h.data<double>(), h.data<double>() + h.count()};
}

class NcclTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
    BackendOptions o;
    o.device = "cuda";
    o.precision = "fp32";
    backend = make_backend(o);
    nccl = make_transport(*backend, MPI_COMM_WORLD, TransportChoice::nccl, TransportUse::point_to_point, "test");
    mpi = make_transport(*backend, MPI_COMM_WORLD, TransportChoice::mpi, TransportUse::point_to_point, "test");
  }
  Tensor device(const Tensor& host, DType dtype) {
    Tensor d = backend->allocate(host.shape(), dtype, Layout::nchw);
    backend->copy(host, d);
    return d;
  }
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Transport> nccl, mpi;
};

TEST_F(NcclTransportTest, KindsAndIdentity) {
  EXPECT_EQ(nccl->kind(), TransportKind::nccl);
  EXPECT_EQ(mpi->kind(), TransportKind::mpi);
  EXPECT_EQ(nccl->size(), 1);
  const std::string id = cuda_device_identity(*backend);
  EXPECT_EQ(id.rfind("GPU-", 0), 0U) << id;
  EXPECT_EQ(id.size(), 4U + 32U) << id;
  // Two ranks bound to this GPU: auto takes MPI, an explicit nccl fails naming the option.
  EXPECT_EQ(choose_transport(TransportChoice::automatic, true, true, {id, id}, "test"), TransportKind::mpi);
  EXPECT_THROW(choose_transport(TransportChoice::nccl, true, true, {id, id}, "test"), InvalidArgument);
}

TEST_F(NcclTransportTest, AllreduceRangesMatchMpi) {
  for (const DType dtype : {DType::f32, DType::f64, DType::bf16}) {
    const Tensor h = host_values(5000, -3.0);
    Tensor a = device(h, dtype), b = device(h, dtype);
    backend->scale(a, 2.0);  // queued on the compute stream: the reduction must see it
    backend->scale(b, 2.0);
    std::vector<Transfer> handles;
    for (auto [lo, hi] : {std::pair<std::int64_t, std::int64_t>{0, 1000}, {1000, 1000}, {1000, 4096}, {4096, 5000}})
      handles.push_back(nccl->allreduce_sum(a, lo, hi));
    for (auto it = handles.rbegin(); it != handles.rend(); ++it) it->wait();
    if (dtype != DType::bf16) mpi->allreduce_sum(b, 0, 5000).wait();  // MPI sums f32/f64 only
    const auto ga = download(*backend, a), gb = download(*backend, b);
    for (std::size_t i = 0; i < ga.size(); ++i) {
      ASSERT_EQ(ga[i], gb[i]) << to_string(dtype) << " element " << i;
      ASSERT_EQ(ga[i], 2.0 * h.data<double>()[i]) << to_string(dtype) << " element " << i;  // one rank: identity
    }
  }
}

TEST_F(NcclTransportTest, SelfSendReceiveMatchesMpiEitherPostingOrder) {
  const Tensor h = host_values(777, 1.5);
  for (const bool receive_first : {false, true}) {
    Tensor src = device(h, DType::f32);
    Tensor via_nccl = backend->allocate(h.shape(), DType::f32, Layout::nchw);
    Tensor via_mpi = backend->allocate(h.shape(), DType::f32, Layout::nchw);
    Transfer r, s;
    if (receive_first) r = nccl->receive(via_nccl, 0, 5);
    s = nccl->send(src, 0, 5);
    if (!receive_first) r = nccl->receive(via_nccl, 0, 5);
    r.wait();
    s.wait();
    Transfer mr = mpi->receive(via_mpi, 0, 6);
    Transfer ms = mpi->send(src, 0, 6);
    ms.wait();
    mr.wait();
    EXPECT_EQ(download(*backend, via_nccl), download(*backend, via_mpi));
    EXPECT_EQ(download(*backend, via_nccl), download(*backend, src));
  }
}

TEST_F(NcclTransportTest, WaitingForAnUnpairedSelfReceiveThrows) {
  Tensor dst = backend->allocate({1, 8, 1, 1}, DType::f32, Layout::nchw);
  Transfer r = nccl->receive(dst, 0, 1);
  EXPECT_FALSE(r.test());
  EXPECT_THROW(r.wait(), Error);
}

TEST_F(NcclTransportTest, HostTensorsAndBadPeersTakeTheMpiRules) {
  Tensor h = host_values(10, 0.0), back({1, 10, 1, 1}, DType::f64);
  Transfer r = nccl->receive(back, 0, 9);
  nccl->send(h, 0, 9).wait();
  r.wait();
  EXPECT_EQ(back.data<double>()[9], h.data<double>()[9]);
  Tensor d = device(h, DType::f32);
  EXPECT_THROW(nccl->send(d, 1, 0), InvalidArgument);
  EXPECT_THROW(nccl->allreduce_sum(d, 0, 11), InvalidArgument);
}

}  // namespace
