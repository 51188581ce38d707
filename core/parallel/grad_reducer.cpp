#include "core/parallel/grad_reducer.hpp"

#include <chrono>
#include <climits>

#include "core/parallel/grid.hpp"

namespace cbednet {

namespace {

MPI_Datatype mpi_float_type(DType dtype) {
  switch (dtype) {
    case DType::f64: return MPI_DOUBLE;
    case DType::f32: return MPI_FLOAT;
    default: throw_error<Error>("gradient reduction of ", to_string(dtype), " buffers is not supported");
  }
}

Tensor flat_view(const Tensor& buffer, std::int64_t begin, std::int64_t end) {
  return buffer.view({1, end - begin, 1, 1}, begin);
}

}  // namespace

GradReducer::GradReducer(Stage& stage, MPI_Comm comm, std::int64_t bucket_bytes) : stage_(stage), comm_(comm) {
  CBEDNET_REQUIRE(bucket_bytes > 0, InvalidArgument, "--bucket-mb must be positive");
  int size = 1;
  check_mpi_call(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  active_ = size > 1;
  ParamStore& store = stage.store();
  mixed_ = store.backend().param_dtype() != store.backend().dtype();

  // Gradient-buffer range of each block: its parameters are the next entries of the store, in layer order.
  const std::size_t first = stage.first_block(), last = stage.last_block();
  const auto& params = store.params();
  std::vector<std::int64_t> begin(last - first, -1);
  std::size_t entry = 0;
  for (std::size_t b = first; b < last; ++b) {
    std::size_t count = 0;
    for (Layer* layer : stage.model().block(b).layers()) count += layer->param_specs().size();
    if (count > 0) begin[b - first] = params.at(entry).offset;
    entry += count;
  }
  CBEDNET_ASSERT(entry == params.size());
  const std::int64_t elements = store.grad().count();
  const std::int64_t element_bytes = static_cast<std::int64_t>(dtype_size(store.grad().dtype()));
  std::int64_t end = elements;  // end of the next block with parameters (in forward order)
  Bucket open;
  bool is_open = false;
  for (std::size_t b = last; b-- > first;) {
    if (begin[b - first] < 0) continue;
    if (!is_open) {
      open = Bucket{};
      open.end = end;
      is_open = true;
    }
    open.begin = begin[b - first];
    open.trigger_block = b;
    end = open.begin;
    if ((open.end - open.begin) * element_bytes >= bucket_bytes) {
      buckets_.push_back(open);
      is_open = false;
    }
  }
  if (is_open) buckets_.push_back(open);
  for (const auto& bucket : buckets_)
    CBEDNET_REQUIRE(bucket.end - bucket.begin <= INT_MAX, InvalidArgument, "gradient bucket of ",
                    bucket.end - bucket.begin, " elements is too large for one MPI call; lower --bucket-mb");
  if (active_ && store.grad().device() != Device::host) {
    grad_staging_ = Tensor(store.grad().shape(), store.grad().dtype());
    stat_staging_ = Tensor(store.accumulators().shape(), store.accumulators().dtype());
  }
}

// Requests still in flight here mean an exception is unwinding; the process is about to be aborted (app/main),
// and waiting could hang on a failed peer, so they are left alone.
GradReducer::~GradReducer() = default;

std::vector<std::pair<std::int64_t, std::int64_t>> GradReducer::bucket_ranges() const {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& b : buckets_) out.emplace_back(b.begin, b.end);
  return out;
}

void GradReducer::start_request(Tensor& buffer, std::int64_t begin, std::int64_t end, Tensor* staging,
                                MPI_Request* request) {
  void* data = nullptr;
  if (staging != nullptr && !staging->empty()) {
    Tensor dst = flat_view(*staging, begin, end);
    stage_.backend().copy(flat_view(buffer, begin, end), dst);
    data = dst.raw();
  } else {
    data = flat_view(buffer, begin, end).raw();
  }
  check_mpi_call(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(end - begin), mpi_float_type(buffer.dtype()),
                                MPI_SUM, comm_, request),
                 "MPI_Iallreduce (gradient bucket)");
}

void GradReducer::start(Bucket& bucket) {
  bucket.started = true;
  if (!active_) return;
  start_request(stage_.store().grad(), bucket.begin, bucket.end, &grad_staging_, &bucket.request);
}

void GradReducer::start_statistics() {
  if (stat_started_) return;
  stat_started_ = true;
  if (!active_ || stage_.store().accumulators().count() == 0) return;
  Tensor& acc = stage_.store().accumulators();
  start_request(acc, 0, acc.count(), &stat_staging_, &stat_request_);
}

void GradReducer::poke() {
  // Open MPI progresses non-blocking collectives only inside MPI calls: test them between blocks.
  for (auto& b : buckets_)
    if (b.request != MPI_REQUEST_NULL) {
      int done = 0;
      check_mpi_call(MPI_Test(&b.request, &done, MPI_STATUS_IGNORE), "MPI_Test (gradient bucket)");
    }
}

void GradReducer::block_done(std::size_t block) {
  if (mixed_) return;  // compute-dtype gradients are gathered in finish()
  for (auto& b : buckets_)
    if (!b.started && b.trigger_block == block) start(b);
  if (active_) poke();
}

double GradReducer::finish() {
  const auto t0 = std::chrono::steady_clock::now();
  start_statistics();
  if (mixed_) stage_.store().gather_compute_grads();
  for (auto& b : buckets_)
    if (!b.started) start(b);
  if (active_) {
    ParamStore& store = stage_.store();
    for (auto& b : buckets_) {
      check_mpi_call(MPI_Wait(&b.request, MPI_STATUS_IGNORE), "MPI_Wait (gradient bucket)");
      if (!grad_staging_.empty()) {
        Tensor dst = flat_view(store.grad(), b.begin, b.end);
        store.backend().copy(flat_view(grad_staging_, b.begin, b.end), dst);
      }
    }
    check_mpi_call(MPI_Wait(&stat_request_, MPI_STATUS_IGNORE), "MPI_Wait (batch-norm statistics)");
    if (!stat_staging_.empty()) store.backend().copy(stat_staging_, store.accumulators());
  }
  for (auto& b : buckets_) b.started = false;
  stat_started_ = false;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace cbednet
