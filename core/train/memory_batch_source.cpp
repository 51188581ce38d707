#include "core/train/memory_batch_source.hpp"

#include <cstring>

#include "core/error.hpp"

namespace cbednet {

MemoryBatchSource::MemoryBatchSource(Tensor images, Tensor labels, std::int64_t global_batch, int replica, int replicas,
                                     std::set<std::int64_t> bad)
    : images_(std::move(images)),
      labels_(std::move(labels)),
      global_batch_(global_batch),
      share_(replicas > 0 ? global_batch / replicas : 0),
      replica_(replica),
      bad_(std::move(bad)) {
  CBEDNET_REQUIRE(replicas >= 1 && replica >= 0 && replica < replicas, InvalidArgument, "memory batch source: replica ",
                  replica, " of ", replicas);
  CBEDNET_REQUIRE(global_batch >= replicas && global_batch % replicas == 0, InvalidArgument,
                  "memory batch source: batch ", global_batch, " is not a multiple of ", replicas, " replicas");
  require_shape(labels_, {images_.shape().n, 1, 1, 1}, "memory batch source labels");
}

Shape MemoryBatchSource::sample_shape() const {
  Shape s = images_.shape();
  s.n = 1;
  return s;
}

std::size_t MemoryBatchSource::steps_per_epoch() const {
  return static_cast<std::size_t>(images_.shape().n / global_batch_);
}

void MemoryBatchSource::start_epoch(std::uint64_t epoch) {
  epoch_ = epoch;
  step_ = 0;
}

std::optional<Batch> MemoryBatchSource::next() {
  if (step_ >= steps_per_epoch()) return std::nullopt;
  const std::int64_t first = static_cast<std::int64_t>(step_) * global_batch_ + replica_ * share_;
  std::vector<std::int64_t> kept;
  for (std::int64_t i = first; i < first + share_; ++i)
    if (bad_.count(i) == 0) kept.push_back(i);
  const Shape s = images_.shape();
  Batch b;
  b.images = Tensor({static_cast<std::int64_t>(kept.size()), s.c, s.h, s.w}, images_.dtype());
  b.labels = Tensor({static_cast<std::int64_t>(kept.size()), 1, 1, 1}, DType::i32);
  const std::size_t bytes = static_cast<std::size_t>(s.c * s.h * s.w) * dtype_size(images_.dtype());
  for (std::size_t k = 0; k < kept.size(); ++k) {
    std::memcpy(static_cast<std::byte*>(b.images.raw()) + k * bytes,
                static_cast<const std::byte*>(images_.raw()) + static_cast<std::size_t>(kept[k]) * bytes, bytes);
    b.labels.data<std::int32_t>()[k] = labels_.data<std::int32_t>()[kept[k]];
  }
  b.indices = kept;
  b.epoch = epoch_;
  b.step = step_++;
  b.skipped = static_cast<std::size_t>(share_) - kept.size();
  return b;
}

}  // namespace cbednet
