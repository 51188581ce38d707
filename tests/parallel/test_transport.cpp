// The MPI Transport (core/parallel/mpi_transport.hpp) under mpiexec (2 and 4 ranks): ring send/receive pairs
// of f64 and f32 tensors, in-place sums of element ranges, handles tested and waited in any order, empty
// ranges, and clear errors for bad peers, ranges and dtypes. The NCCL transport implements the same interface
// (tests/gpu/nccl_transport_test.cpp).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <numeric>

#include "core/parallel/mpi_transport.hpp"
#include "kernels/cpu/reference_backend.hpp"

using namespace cbednet;

namespace {

struct World {
  int rank = 0, size = 1;
  World() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
};

// Value of element i as rank r fills it: distinct per rank and element, exact in f32.
double value(int r, std::int64_t i) { return 1000.0 * r + static_cast<double>(i) + 0.5; }

Tensor filled(int r, std::int64_t n, DType dtype) {
  Tensor t({1, n, 1, 1}, DType::f64);
  for (std::int64_t i = 0; i < n; ++i) t.data<double>()[i] = value(r, i);
  return t.to_dtype(dtype);
}

std::vector<double> as_f64(const Tensor& t) {
  const Tensor d = t.to_dtype(DType::f64);
  return {d.data<double>(), d.data<double>() + d.count()};
}

class TransportTest : public ::testing::Test {
 protected:
  World world;
  ReferenceBackend backend;
  MpiTransport transport{backend, MPI_COMM_WORLD};
};

TEST_F(TransportTest, ReportsCommunicator) {
  EXPECT_EQ(transport.kind(), TransportKind::mpi);
  EXPECT_EQ(transport.rank(), world.rank);
  EXPECT_EQ(transport.size(), world.size);
}

TEST_F(TransportTest, RingSendReceiveF64AndF32WaitedInAnyOrder) {
  const int next = (world.rank + 1) % world.size, prev = (world.rank + world.size - 1) % world.size;
  Tensor a = filled(world.rank, 37, DType::f64), b = filled(world.rank + 10, 5, DType::f32);
  Tensor ra({1, 37, 1, 1}, DType::f64), rb({1, 5, 1, 1}, DType::f32);
  // Receives posted after the sends on even ranks, before them on odd ranks; waited receive-first.
  std::vector<Transfer> sends, receives;
  if (world.rank % 2 == 1) {
    receives.push_back(transport.receive(rb, prev, 8));
    receives.push_back(transport.receive(ra, prev, 7));
  }
  sends.push_back(transport.send(a, next, 7));
  sends.push_back(transport.send(b, next, 8));
  a = Tensor();  // the handle keeps the storage alive
  if (world.rank % 2 == 0) {
    receives.push_back(transport.receive(ra, prev, 7));
    receives.push_back(transport.receive(rb, prev, 8));
  }
  for (auto it = receives.rbegin(); it != receives.rend(); ++it) it->wait();
  for (auto& s : sends) s.wait();
  for (auto& r : receives) EXPECT_TRUE(r.done());
  const std::vector<double> ga = as_f64(ra), gb = as_f64(rb);
  for (std::int64_t i = 0; i < 37; ++i) ASSERT_EQ(ga[static_cast<std::size_t>(i)], value(prev, i)) << i;
  for (std::int64_t i = 0; i < 5; ++i) ASSERT_EQ(gb[static_cast<std::size_t>(i)], value(prev + 10, i)) << i;
}

TEST_F(TransportTest, TestPollsUntilComplete) {
  const int next = (world.rank + 1) % world.size, prev = (world.rank + world.size - 1) % world.size;
  Tensor out = filled(world.rank, 1000, DType::f64), in({1, 1000, 1, 1}, DType::f64);
  Transfer r = transport.receive(in, prev, 3);
  Transfer s = transport.send(out, next, 3);
  int polls = 0;
  while (!r.test()) ++polls;
  EXPECT_TRUE(r.test());  // repeatable once complete
  while (!s.test()) ++polls;
  EXPECT_TRUE(r.done() && s.done());
  EXPECT_EQ(as_f64(in)[999], value(prev, 999));
}

// Sums of several ranges of one buffer started together, waited in reverse order; untouched elements stay.
void check_ranges(MpiTransport& transport, const World& world, DType dtype) {
  constexpr std::int64_t n = 100;
  Tensor t = filled(world.rank, n, dtype);
  const std::vector<std::pair<std::int64_t, std::int64_t>> ranges{{0, 10}, {10, 55}, {60, 100}};
  std::vector<Transfer> handles;
  for (auto [b, e] : ranges) handles.push_back(transport.allreduce_sum(t, b, e));
  for (auto it = handles.rbegin(); it != handles.rend(); ++it) it->wait();
  const std::vector<double> got = as_f64(t);
  for (std::int64_t i = 0; i < n; ++i) {
    double expected = value(world.rank, i);  // [55, 60) is in no range
    if (i < 55 || i >= 60) {
      expected = 0;
      for (int r = 0; r < world.size; ++r) expected += value(r, i);
    }
    ASSERT_EQ(got[static_cast<std::size_t>(i)], expected) << to_string(dtype) << " element " << i;
  }
}

TEST_F(TransportTest, AllreduceRangesF64) { check_ranges(transport, world, DType::f64); }
TEST_F(TransportTest, AllreduceRangesF32) { check_ranges(transport, world, DType::f32); }

TEST_F(TransportTest, MixedHandlesCompleteInAnyOrder) {
  const int next = (world.rank + 1) % world.size, prev = (world.rank + world.size - 1) % world.size;
  Tensor sum = filled(world.rank, 16, DType::f64), out = filled(world.rank, 4, DType::f64);
  Tensor in({1, 4, 1, 1}, DType::f64);
  std::vector<Transfer> h;
  h.push_back(transport.allreduce_sum(sum, 0, 8));
  h.push_back(transport.receive(in, prev, 11));
  h.push_back(transport.allreduce_sum(sum, 8, 16));
  h.push_back(transport.send(out, next, 11));
  for (const std::size_t k : {std::size_t{3}, std::size_t{0}, std::size_t{2}, std::size_t{1}}) h[k].wait();
  double expected = 0;
  for (int r = 0; r < world.size; ++r) expected += value(r, 15);
  EXPECT_EQ(as_f64(sum)[15], expected);
  EXPECT_EQ(as_f64(in)[3], value(prev, 3));
}

TEST_F(TransportTest, EmptyRangeCommunicatesNothing) {
  Tensor t = filled(world.rank, 8, DType::f64);
  Transfer h = transport.allreduce_sum(t, 3, 3);
  EXPECT_TRUE(h.done());
  h.wait();
  EXPECT_EQ(as_f64(t), as_f64(filled(world.rank, 8, DType::f64)));
}

TEST_F(TransportTest, BadPeerRangeAndDtypeThrowNamingThem) {
  Tensor t = filled(world.rank, 8, DType::f64);
  try {
    transport.send(t, world.size, 1);
    FAIL() << "send to a rank outside the communicator";
  } catch (const InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("peer rank " + std::to_string(world.size)), std::string::npos) << m;
    EXPECT_NE(m.find("communicator of " + std::to_string(world.size) + " ranks"), std::string::npos) << m;
  }
  EXPECT_THROW(transport.receive(t, -1, 1), InvalidArgument);
  EXPECT_THROW(transport.allreduce_sum(t, 4, 9), InvalidArgument);
  EXPECT_THROW(transport.allreduce_sum(t, 5, 4), InvalidArgument);
  Tensor labels({1, 4, 1, 1}, DType::i32);
  EXPECT_THROW(transport.allreduce_sum(labels, 0, 4), InvalidArgument);
}

TEST_F(TransportTest, FactoryPicksMpiForCpuBackendsAndRefusesNccl) {
  for (const auto choice : {TransportChoice::automatic, TransportChoice::mpi}) {
    auto t = make_transport(backend, MPI_COMM_WORLD, choice, TransportUse::allreduce, "test");
    EXPECT_EQ(t->kind(), TransportKind::mpi);
    EXPECT_EQ(t->size(), world.size);
  }
  try {
    make_transport(backend, MPI_COMM_WORLD, TransportChoice::nccl, TransportUse::point_to_point, "pipeline");
    FAIL() << "nccl on a CPU backend";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("--transport nccl"), std::string::npos) << e.what();
  }
}

}  // namespace
