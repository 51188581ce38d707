// Caching device allocator: blocks are rounded up to size classes and kept in per-class free lists when their
// Allocation dies, so a training loop that repeats the same shapes calls cudaMalloc only during its first step.
//
// Stream safety: every kernel runs on the backend's one compute stream, so a block freed on the host and handed
// out again is only touched by later work on that stream (stream order makes the reuse safe). Work on another
// stream (the copy stream) must first wait on an event recorded on the compute stream.
//
// Private pools (CUDA graph capture, kernels/cuda/cuda_graph.*): between begin_private_pool() and
// end_private_pool() every allocation is served from the pool (its free blocks, else a block of the general cache,
// else cudaMalloc), and every block freed goes to the pool unless it belongs to another pool still alive (then to
// that one: its graph writes it at every replay). Reusing a block freed during the capture for a later allocation
// of the same capture is safe: inside the graph the two uses are in stream order. The pool's blocks stay out of
// the general cache while the pool lives (the graph's replays write them); when the pool dies (the captured work
// is destroyed) its free blocks join the general cache, and a pool block still held by a tensor (the graph's
// output) joins it when that tensor dies.
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

  // A pool of blocks reserved for one capture; opaque outside device_allocator.cpp.
  class PrivatePool;
  // Routes allocations and frees to a new private pool until end_private_pool(); the caller keeps the pool alive
  // as long as the captured work that uses its blocks. Throws BackendError when a pool is already active.
  std::shared_ptr<PrivatePool> begin_private_pool();
  void end_private_pool();  // no-op without an active pool

 private:
  friend class DeviceBlock;
  void give_back(void* ptr, std::size_t rounded, const std::weak_ptr<PrivatePool>& pool);
  void release_cache_locked();
  // A block from the free list of `rounded` in `lists`, or nullptr.
  static void* take_free(std::map<std::size_t, std::vector<void*>>& lists, std::size_t rounded);

  int device_;
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;  // rounded size -> cached blocks
  CudaMemoryStats stats_{};
  std::shared_ptr<PrivatePool> active_pool_;  // set between begin_private_pool() and end_private_pool()
};

}  // namespace cbednet::cuda
