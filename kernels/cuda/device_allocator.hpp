// Caching device allocator: blocks are rounded up to size classes and kept in per-class free lists when their
// Allocation dies, so a training loop that repeats the same shapes calls cudaMalloc only during its first step.
//
// Stream safety: every kernel runs on the backend's one compute stream, so a block freed on the host and handed
// out again is only touched by later work on that stream (stream order makes the reuse safe). Work on another
// stream (the copy stream) must first wait on an event recorded on the compute stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor.hpp"
#include "kernels/cuda/cuda_backend.hpp"

namespace cbednet::cuda {

class DeviceAllocator : public std::enable_shared_from_this<DeviceAllocator> {
 public:
  explicit DeviceAllocator(int device);
  ~DeviceAllocator();  // frees the cached blocks; live Allocations keep the allocator alive
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  // A block of at least `bytes` (not initialised). `what` names the request in the error when the device is out
  // of memory (after the cache was released and cudaMalloc retried).
  std::shared_ptr<Allocation> allocate(std::size_t bytes, const char* what);
  // Returns every cached block to the driver.
  void release_cache();
  CudaMemoryStats stats() const;

  // Size class of a request: 512-byte granules below 1 MiB, then 2 MiB granules (so that activations of
  // nearly equal size share a class while small parameter tensors do not waste megabytes).
  static std::size_t round_size(std::size_t bytes);

 private:
  friend class DeviceBlock;
  void give_back(void* ptr, std::size_t rounded);
  void release_cache_locked();

  int device_;
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;  // rounded size -> cached blocks
  CudaMemoryStats stats_{};
};

}  // namespace cbednet::cuda
