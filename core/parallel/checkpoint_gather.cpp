#include "core/parallel/checkpoint_gather.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace cbednet {

namespace {

constexpr int tag_size = 7301, tag_data = 7302;
constexpr std::size_t chunk_bytes = std::size_t{1} << 30;  // MPI counts are int

// [group u8][name length u32][name][dtype u8][n, c, h, w i64][bytes] per tensor.
std::vector<char> pack(const ModelTensors& t) {
  std::vector<char> out;
  auto put = [&](const void* p, std::size_t n) {
    const auto* c = static_cast<const char*>(p);
    out.insert(out.end(), c, c + n);
  };
  std::uint8_t group = 0;
  for (const NamedTensors* map : t.groups()) {
    for (const auto& [name, tensor] : *map) {
      const auto length = static_cast<std::uint32_t>(name.size());
      const auto dtype = static_cast<std::uint8_t>(tensor.dtype());
      const std::int64_t dims[4] = {tensor.shape().n, tensor.shape().c, tensor.shape().h, tensor.shape().w};
      put(&group, 1);
      put(&length, 4);
      put(name.data(), name.size());
      put(&dtype, 1);
      put(dims, sizeof dims);
      put(tensor.raw(), tensor.bytes());
    }
    ++group;
  }
  return out;
}

ModelTensors unpack(const std::vector<char>& in) {
  ModelTensors out;
  std::size_t at = 0;
  auto get = [&](void* p, std::size_t n) {
    CBEDNET_ASSERT(at + n <= in.size());
    std::memcpy(p, in.data() + at, n);
    at += n;
  };
  while (at < in.size()) {
    std::uint8_t group = 0, dtype = 0;
    std::uint32_t length = 0;
    std::int64_t dims[4] = {};
    get(&group, 1);
    get(&length, 4);
    std::string name(length, '\0');
    get(name.data(), length);
    get(&dtype, 1);
    get(dims, sizeof dims);
    Tensor t({dims[0], dims[1], dims[2], dims[3]}, static_cast<DType>(dtype));
    get(t.raw(), t.bytes());
    CBEDNET_ASSERT(group < out.groups().size());
    out.groups()[group]->emplace(std::move(name), std::move(t));
  }
  return out;
}

}  // namespace

ModelTensors gather_checkpoint_tensors(ModelTensors local, const Grid& grid) {
  if (grid.stages() == 1 || grid.replica() != 0) return local;
  const MPI_Comm world = grid.world();
  const int root = grid.rank_of(0, 0);
  if (grid.stage() != 0) {
    const std::vector<char> bytes = pack(local);
    const auto size = static_cast<std::uint64_t>(bytes.size());
    check_mpi_call(MPI_Send(&size, 1, MPI_UINT64_T, root, tag_size, world), "MPI_Send (checkpoint size)");
    for (std::size_t at = 0; at < bytes.size(); at += chunk_bytes)
      check_mpi_call(MPI_Send(bytes.data() + at, static_cast<int>(std::min(chunk_bytes, bytes.size() - at)), MPI_BYTE,
                              root, tag_data, world),
                     "MPI_Send (checkpoint tensors)");
    return {};
  }
  for (int s = 1; s < grid.stages(); ++s) {
    const int source = grid.rank_of(s, 0);
    std::uint64_t size = 0;
    check_mpi_call(MPI_Recv(&size, 1, MPI_UINT64_T, source, tag_size, world, MPI_STATUS_IGNORE),
                   "MPI_Recv (checkpoint size)");
    std::vector<char> bytes(size);
    for (std::size_t at = 0; at < bytes.size(); at += chunk_bytes)
      check_mpi_call(MPI_Recv(bytes.data() + at, static_cast<int>(std::min(chunk_bytes, bytes.size() - at)), MPI_BYTE,
                              source, tag_data, world, MPI_STATUS_IGNORE),
                     "MPI_Recv (checkpoint tensors)");
    local.merge(unpack(bytes));
  }
  return local;
}

}  // namespace cbednet
