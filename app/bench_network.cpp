#include "app/bench_network.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <vector>

#include "app/mpi_session.hpp"
#include "core/error.hpp"

namespace cbednet::app {

namespace {

// One-way time of a `bytes` message between ranks 0 and `peer`: half the median round trip of `rounds`
// ping-pongs (the median resists a scheduler hiccup on a shared machine).
double one_way_seconds(int peer, std::size_t bytes, long rounds) {
  const int rank = world_rank();
  std::vector<char> buffer(std::max<std::size_t>(bytes, 1));
  const int count = static_cast<int>(bytes);
  std::vector<double> trips;
  for (long r = -2; r < rounds; ++r) {  // two untimed rounds open the connection
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    if (rank == 0) {
      MPI_Send(buffer.data(), count, MPI_BYTE, peer, 0, MPI_COMM_WORLD);
      MPI_Recv(buffer.data(), count, MPI_BYTE, peer, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == peer) {
      MPI_Recv(buffer.data(), count, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buffer.data(), count, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    }
    if (r >= 0) trips.push_back(MPI_Wtime() - start);
  }
  std::nth_element(trips.begin(), trips.begin() + static_cast<long>(trips.size() / 2), trips.end());
  double half = trips[trips.size() / 2] / 2.0;
  MPI_Bcast(&half, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return half;
}

// Median time of an allreduce (sum) of `bytes` of floats over all ranks, started and waited for as the trainer's
// gradient buckets are (MPI_Iallreduce + MPI_Wait, core/parallel/mpi_transport.cpp): Open MPI runs its
// non-blocking collectives with other algorithms than the blocking ones.
double allreduce_seconds(std::size_t bytes, long rounds) {
  std::vector<float> in(std::max<std::size_t>(bytes / sizeof(float), 1), 1.0F);
  std::vector<float> out(in.size());
  std::vector<double> times;
  for (long r = -2; r < rounds; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Iallreduce(in.data(), out.data(), static_cast<int>(in.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    double t = MPI_Wtime() - start;
    // The collective ends when its slowest rank is done.
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (r >= 0) times.push_back(t);
  }
  std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
  return times[times.size() / 2];
}

}  // namespace

int run_network_bench(long repetitions) {
  const int ranks = world_size();
  CBEDNET_REQUIRE(ranks >= 2, InvalidArgument,
                  "bench --network: needs at least 2 ranks (one per node: srun -N 2 or mpiexec over 2 hosts), got ",
                  ranks);
  CBEDNET_REQUIRE(repetitions >= 1, InvalidArgument, "bench --network: --steps must be positive");
  const int peer = ranks - 1;
  const bool root = world_rank() == 0;
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  std::string peer_host(name, static_cast<std::size_t>(length));
  // The peer's host name, so the output says which link was measured.
  if (world_rank() == peer) MPI_Send(name, length, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
  if (root) {
    MPI_Status status;
    MPI_Probe(peer, 1, MPI_COMM_WORLD, &status);
    int n = 0;
    MPI_Get_count(&status, MPI_CHAR, &n);
    peer_host.assign(static_cast<std::size_t>(n), '\0');
    MPI_Recv(peer_host.data(), n, MPI_CHAR, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  const std::string host(name, static_cast<std::size_t>(length));

  const double latency = one_way_seconds(peer, 8, 200 * repetitions);
  constexpr std::size_t big = 8u << 20;
  const double big_one_way = one_way_seconds(peer, big, 5 * repetitions);
  // Bandwidth from the large message after its latency share: what the planner's `latency + bytes / bandwidth`
  // needs to reproduce both sizes.
  const double bytes_per_s = static_cast<double>(big) / std::max(big_one_way - latency, 1e-9);
  std::ostringstream out;
  out << "{\"benchmark\": \"network_p2p\", \"from\": \"" << host << "\", \"to\": \"" << peer_host
      << "\", \"bytes\": 8, \"one_way_us\": " << latency * 1e6 << "}\n";
  out << "{\"benchmark\": \"network_p2p\", \"from\": \"" << host << "\", \"to\": \"" << peer_host
      << "\", \"bytes\": " << big << ", \"one_way_us\": " << big_one_way * 1e6 << "}\n";
  for (const std::size_t bytes : {std::size_t{8}, std::size_t{64} << 10, std::size_t{1} << 20, std::size_t{16} << 20}) {
    const long rounds = bytes >= (std::size_t{1} << 20) ? 5 * repetitions : 50 * repetitions;
    const double t = allreduce_seconds(bytes, rounds);
    out << "{\"benchmark\": \"network_allreduce\", \"ranks\": " << ranks << ", \"bytes\": " << bytes
        << ", \"us\": " << t * 1e6 << "}\n";
  }
  out << "{\"benchmark\": \"network_link\", \"from\": \"" << host << "\", \"to\": \"" << peer_host
      << "\", \"ranks\": " << ranks << ", \"latency_us\": " << latency * 1e6
      << ", \"gbps\": " << bytes_per_s * 8.0 / 1e9 << "}\n";
  if (root) std::cout << out.str() << std::flush;
  return 0;
}

}  // namespace cbednet::app
