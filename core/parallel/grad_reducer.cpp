#include "core/parallel/grad_reducer.hpp"

#include <chrono>
#include <climits>

namespace cbednet {

GradReducer::GradReducer(Stage& stage, Transport& transport, std::int64_t bucket_bytes)
    : stage_(stage), transport_(transport) {
  CBEDNET_REQUIRE(bucket_bytes > 0, InvalidArgument, "--bucket-mb must be positive");
  active_ = transport.size() > 1;
  ParamStore& store = stage.store();

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
      buckets_.push_back(std::move(open));
      is_open = false;
    }
  }
  if (is_open) buckets_.push_back(std::move(open));
  for (const auto& bucket : buckets_)
    CBEDNET_REQUIRE(bucket.end - bucket.begin <= INT_MAX, InvalidArgument, "gradient bucket of ",
                    bucket.end - bucket.begin, " elements is too large for one MPI call; lower --bucket-mb");
}

// Transfers still in flight here mean an exception is unwinding; the process is about to be aborted (app/main),
// and waiting could hang on a failed peer, so they are left alone.
GradReducer::~GradReducer() = default;

std::vector<std::pair<std::int64_t, std::int64_t>> GradReducer::bucket_ranges() const {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& b : buckets_) out.emplace_back(b.begin, b.end);
  return out;
}

void GradReducer::start(Bucket& bucket) {
  bucket.started = true;
  // bf16/fp16: the bucket's compute-dtype gradients into its master gradients first (no-op otherwise).
  stage_.store().gather_compute_grads(bucket.begin, bucket.end);
  if (!active_) return;
  bucket.transfer = transport_.allreduce_sum(stage_.store().grad(), bucket.begin, bucket.end);
}

void GradReducer::start_statistics() {
  if (stat_started_) return;
  stat_started_ = true;
  if (!active_ || stage_.store().accumulators().count() == 0) return;
  Tensor& acc = stage_.store().accumulators();
  stat_transfer_ = transport_.allreduce_sum(acc, 0, acc.count());
}

void GradReducer::poke() {
  // Open MPI progresses non-blocking collectives only inside MPI calls: test them between blocks.
  for (auto& b : buckets_) b.transfer.test();
}

void GradReducer::block_done(std::size_t block) {
  for (auto& b : buckets_)
    if (!b.started && b.trigger_block == block) start(b);
  if (active_) poke();
}

double GradReducer::finish() {
  const auto t0 = std::chrono::steady_clock::now();
  start_statistics();
  for (auto& b : buckets_)
    if (!b.started) start(b);
  for (auto& b : buckets_) b.transfer.wait();
  stat_transfer_.wait();
  stage_.store().gather_compute_grads();  // marks the store gathered (every bucket already was)
  for (auto& b : buckets_) b.started = false;
  stat_started_ = false;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace cbednet
