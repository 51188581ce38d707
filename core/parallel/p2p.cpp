#include "core/parallel/p2p.hpp"

#include <chrono>

#include "core/stopwatch.hpp"

namespace cbednet {

void TensorPipe::send(const Tensor& t, int to, int tag) {
  Pending p;
  p.buffer = t.view();  // block outputs are fresh, contiguous allocations
  p.transfer = transport_.send(p.buffer, to, tag);
  p.open = true;
  // Drop completed sends so that their buffers are freed during long steps.
  for (auto& s : sends_)
    if (s.open && s.transfer.test()) {
      s.open = false;
      s.buffer = Tensor();
    }
  std::erase_if(sends_, [](const Pending& s) { return !s.open; });
  sends_.push_back(std::move(p));
}

int TensorPipe::post_receive(Shape shape, int from, int tag, DType dtype, Layout layout, bool on_host) {
  Pending p;
  p.buffer = on_host ? Tensor(shape, dtype, layout) : backend_.allocate(shape, dtype, layout);
  p.transfer = transport_.receive(p.buffer, from, tag);
  p.open = true;
  for (std::size_t i = 0; i < receives_.size(); ++i)
    if (!receives_[i].open) {
      receives_[i] = std::move(p);
      return static_cast<int>(i);
    }
  receives_.push_back(std::move(p));
  return static_cast<int>(receives_.size() - 1);
}

Tensor TensorPipe::take(int handle, double* waited) {
  Pending& p = receives_.at(static_cast<std::size_t>(handle));
  CBEDNET_ASSERT(p.open);
  const auto t0 = std::chrono::steady_clock::now();
  p.transfer.wait();
  if (waited != nullptr) *waited += seconds_since(t0);
  p.open = false;
  return std::move(p.buffer);
}

void TensorPipe::wait_sends(double* waited) {
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& s : sends_)
    if (s.open) s.transfer.wait();
  sends_.clear();
  if (waited != nullptr) *waited += seconds_since(t0);
}

}  // namespace cbednet
