#include "core/parallel/transport.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "cbednet/build_info.hpp"
#include "core/parallel/grid.hpp"
#include "core/parallel/mpi_transport.hpp"
#if CBEDNET_HAVE_CUDA
#include "core/parallel/nccl_transport.hpp"
#endif

namespace cbednet {

const char* to_string(TransportKind kind) { return kind == TransportKind::nccl ? "nccl" : "mpi"; }

const char* to_string(TransportChoice choice) {
  switch (choice) {
    case TransportChoice::mpi:
      return "mpi";
    case TransportChoice::nccl:
      return "nccl";
    default:
      return "auto";
  }
}

TransportChoice parse_transport(const std::string& text) {
  if (text == "auto") return TransportChoice::automatic;
  if (text == "mpi") return TransportChoice::mpi;
  if (text == "nccl") return TransportChoice::nccl;
  throw_error<InvalidArgument>("--transport: expected auto, mpi or nccl, got '", text, "'");
}

int Transport::rank() const {
  int r = 0;
  check_mpi_call(MPI_Comm_rank(comm(), &r), "MPI_Comm_rank");
  return r;
}

int Transport::size() const {
  int n = 1;
  check_mpi_call(MPI_Comm_size(comm(), &n), "MPI_Comm_size");
  return n;
}

void require_peer(int peer, int size, const char* op) {
  CBEDNET_REQUIRE(peer >= 0 && peer < size, InvalidArgument, op, ": peer rank ", peer,
                  " is outside the communicator of ", size, " ranks");
}

TransportKind choose_transport(TransportChoice requested, bool cuda_backend, bool nccl_built,
                               const std::vector<std::string>& device_ids, const std::string& what) {
  if (requested == TransportChoice::mpi) return TransportKind::mpi;
  const bool forced = requested == TransportChoice::nccl;
  auto refuse = [&](const std::string& why) {
    if (forced)
      throw_error<InvalidArgument>("--transport nccl (", what, " communicator): ", why,
                                   "; use --transport mpi or auto");
    return TransportKind::mpi;
  };
  if (!nccl_built) return refuse("this build has no CUDA/NCCL support");
  if (!cuda_backend) return refuse("the backend is not CUDA (NCCL moves device buffers only)");
  // One rank: nothing crosses ranks, so auto does not pay for an NCCL communicator (an explicit request does).
  if (!forced && device_ids.size() <= 1) return TransportKind::mpi;
  std::set<std::string> seen;
  for (std::size_t r = 0; r < device_ids.size(); ++r) {
    if (device_ids[r].empty()) return refuse("rank " + std::to_string(r) + " has no GPU");
    if (!seen.insert(device_ids[r]).second) {
      const auto first =
          static_cast<std::size_t>(std::find(device_ids.begin(), device_ids.end(), device_ids[r]) - device_ids.begin());
      return refuse("ranks " + std::to_string(first) + " and " + std::to_string(r) + " share GPU " + device_ids[r] +
                    " (NCCL needs one GPU per rank)");
    }
  }
  return TransportKind::nccl;
}

namespace {

// Every rank's device identity, in rank order (fixed-size records: one MPI_Allgather).
std::vector<std::string> gather_device_ids(const std::string& mine, MPI_Comm comm) {
  constexpr std::size_t width = 64;
  CBEDNET_ASSERT(mine.size() < width);
  std::array<char, width> record{};
  std::memcpy(record.data(), mine.data(), mine.size());
  int n = 1;
  check_mpi_call(MPI_Comm_size(comm, &n), "MPI_Comm_size");
  std::vector<char> all(width * static_cast<std::size_t>(n));
  check_mpi_call(MPI_Allgather(record.data(), static_cast<int>(width), MPI_CHAR, all.data(), static_cast<int>(width),
                               MPI_CHAR, comm),
                 "MPI_Allgather (device identities for the transport choice)");
  std::vector<std::string> ids;
  for (int r = 0; r < n; ++r) ids.emplace_back(all.data() + width * static_cast<std::size_t>(r));
  return ids;
}

}  // namespace

std::unique_ptr<Transport> make_transport(Backend& backend, MPI_Comm comm, TransportChoice requested, TransportUse use,
                                          const std::string& what) {
  const bool cuda_backend = backend.device() == Device::cuda;
  std::string mine;
#if CBEDNET_HAVE_CUDA
  if (cuda_backend) mine = cuda_device_identity(backend);
  constexpr bool nccl_built = true;
#else
  constexpr bool nccl_built = false;
#endif
  // Gathered even when MPI is requested, so that every rank makes the same calls whatever its options say.
  const std::vector<std::string> ids = gather_device_ids(mine, comm);
  const TransportKind kind = choose_transport(requested, cuda_backend, nccl_built, ids, what);
#if CBEDNET_HAVE_CUDA
  if (kind == TransportKind::nccl) return make_nccl_transport(backend, comm, use);
#else
  static_cast<void>(use);
  static_cast<void>(kind);  // always mpi here: choose_transport refused nccl without NCCL
#endif
  return std::make_unique<MpiTransport>(backend, comm);
}

}  // namespace cbednet
