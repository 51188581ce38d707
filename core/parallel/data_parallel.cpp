#include "core/parallel/data_parallel.hpp"

#include <string>

#include "core/model/param_store.hpp"

namespace cbednet {

namespace {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw_error<BackendError>("MPI ", what, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f64:
      return MPI_DOUBLE;
    case DType::f32:
      return MPI_FLOAT;
    case DType::i32:
      return MPI_INT32_T;
    default:
      throw_error<Error>("allreduce of ", to_string(dtype), " buffers is not supported");
  }
}

void allreduce_tensor(Backend& backend, Tensor& t, MPI_Comm comm) {
  if (t.count() == 0) return;
  if (t.device() == Device::host) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, t.raw(), static_cast<int>(t.count()), mpi_type(t.dtype()), MPI_SUM, comm),
              "MPI_Allreduce (gradients)");
    return;
  }
  Tensor host(t.shape(), t.dtype(), t.layout());
  backend.copy(t, host);
  check_mpi(
      MPI_Allreduce(MPI_IN_PLACE, host.raw(), static_cast<int>(host.count()), mpi_type(host.dtype()), MPI_SUM, comm),
      "MPI_Allreduce (gradients)");
  backend.copy(host, t);
}

}  // namespace

void allreduce_gradients(ParamStore& store, MPI_Comm comm) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  if (size == 1) return;
  store.gather_compute_grads();
  allreduce_tensor(store.backend(), store.grad(), comm);
  allreduce_tensor(store.backend(), store.accumulators(), comm);
}

void allreduce_sum(std::vector<double>& values, MPI_Comm comm) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, comm),
            "MPI_Allreduce (statistics)");
}

void allreduce_sum(std::vector<std::int64_t>& values, MPI_Comm comm) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, comm),
            "MPI_Allreduce (counters)");
}

double sum_over_pipeline(const std::vector<double>& mine, MPI_Comm pipeline) {
  int size = 1;
  MPI_Comm_size(pipeline, &size);
  const int count = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  check_mpi(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, pipeline), "MPI_Allgather (norm counts)");
  int total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[static_cast<std::size_t>(r)] = total;
    total += counts[static_cast<std::size_t>(r)];
  }
  std::vector<double> all(static_cast<std::size_t>(total));
  check_mpi(
      MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, pipeline),
      "MPI_Allgatherv (gradient norms)");
  double sum = 0;
  for (const double v : all) sum += v;
  return sum;
}

void require_same_on_all_ranks(const std::string& text, const std::string& what, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  if (size == 1) return;
  const std::uint64_t mine = stable_hash(text);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size));
  check_mpi(MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm), "MPI_Allgather (configuration)");
  for (int r = 1; r < size; ++r)
    if (all[static_cast<std::size_t>(r)] != all[0])
      throw_error<InvalidArgument>(what, " differs between rank 0 and rank ", r,
                                   ": every rank must be started with the same options");
}

}  // namespace cbednet
