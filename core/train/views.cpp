#include "core/train/views.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace cbednet {

ViewMode parse_views(const std::string& name) {
  if (name == "stack") return ViewMode::stack;
  if (name == "random") return ViewMode::random;
  throw_error<InvalidArgument>("--views: expected stack or random, got '", name, "'");
}

const char* to_string(ViewMode views) { return views == ViewMode::stack ? "stack" : "random"; }

Tensor select_view(const Tensor& images, int view) {
  const Shape s = images.shape();
  CBEDNET_REQUIRE(view >= 0 && view < s.c, InvalidArgument, "projection ", view, " of a ", s.c, "-channel batch");
  Tensor out({s.n, 1, s.h, s.w}, images.dtype());
  const std::size_t plane = static_cast<std::size_t>(s.h * s.w) * dtype_size(images.dtype());
  const auto* src = static_cast<const std::byte*>(images.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (std::int64_t n = 0; n < s.n; ++n) std::memcpy(dst + n * plane, src + (n * s.c + view) * plane, plane);
  return out;
}

Tensor random_views(const Batch& batch, std::uint64_t seed, std::uint64_t epoch) {
  const Shape s = batch.images.shape();
  Tensor out({s.n, 1, s.h, s.w}, DType::f32);
  const RandomStream stream(seed, RngPurpose::augment);
  const std::int64_t plane = s.h * s.w;
  for (std::int64_t i = 0; i < s.n; ++i) {
    const auto v = static_cast<std::int64_t>(
        stream.below(static_cast<std::uint64_t>(s.c), epoch, static_cast<std::uint64_t>(batch.indices[i])));
    std::copy_n(batch.images.data<float>() + (i * s.c + v) * plane, plane, out.data<float>() + i * plane);
  }
  return out;
}

}  // namespace cbednet
