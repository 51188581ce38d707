#include "kernels/cuda/device_allocator.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "kernels/cuda/cuda_check.hpp"

namespace cbednet::cuda {

// The blocks of one capture (see the header); its lists are guarded by the owner's mutex.
class DeviceAllocator::PrivatePool {
 public:
  explicit PrivatePool(std::shared_ptr<DeviceAllocator> owner) : owner_(std::move(owner)) {}
  // The graph that wrote these blocks is gone: they join the general cache.
  ~PrivatePool() {
    std::lock_guard lock(owner_->mutex_);
    for (auto& [size, blocks] : free_) {
      auto& general = owner_->free_[size];
      general.insert(general.end(), blocks.begin(), blocks.end());
    }
  }
  PrivatePool(const PrivatePool&) = delete;
  PrivatePool& operator=(const PrivatePool&) = delete;

  std::map<std::size_t, std::vector<void*>> free_;  // rounded size -> blocks free for this capture's later use

 private:
  std::shared_ptr<DeviceAllocator> owner_;
};

// One handed-out block; gives itself back to the cache when the last tensor referring to it dies: to the private
// pool it was handed out from while that lives (or to the active one during a capture), else to the general cache.
class DeviceBlock final : public Allocation {
 public:
  DeviceBlock(std::shared_ptr<DeviceAllocator> owner, void* ptr, std::size_t bytes, std::size_t rounded,
              std::weak_ptr<DeviceAllocator::PrivatePool> pool)
      : owner_(std::move(owner)), pool_(std::move(pool)), ptr_(ptr), bytes_(bytes), rounded_(rounded) {}
  ~DeviceBlock() override { owner_->give_back(ptr_, rounded_, pool_); }
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;
  void* data() override { return ptr_; }
  std::size_t bytes() const override { return bytes_; }
  Device device() const override { return Device::cuda; }

 private:
  std::shared_ptr<DeviceAllocator> owner_;
  std::weak_ptr<DeviceAllocator::PrivatePool> pool_;  // empty for a block of the general cache
  void* ptr_;  // owned by the allocator's accounting; returned to its free list, never freed here
  std::size_t bytes_;
  std::size_t rounded_;
};

DeviceAllocator::DeviceAllocator(int device) : device_(device) {}

DeviceAllocator::~DeviceAllocator() {
  std::lock_guard lock(mutex_);
  static_cast<void>(cudaSetDevice(device_));
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) static_cast<void>(cudaFree(p));  // errors at teardown are not actionable
  free_.clear();
}

std::size_t DeviceAllocator::round_size(std::size_t bytes) {
  constexpr std::size_t small_granule = 512, large_granule = 2u << 20, small_limit = 1u << 20;
  const std::size_t b = std::max<std::size_t>(bytes, 1);
  const std::size_t g = b < small_limit ? small_granule : large_granule;
  return (b + g - 1) / g * g;
}

void* DeviceAllocator::take_free(std::map<std::size_t, std::vector<void*>>& lists, std::size_t rounded) {
  auto it = lists.find(rounded);
  if (it == lists.end() || it->second.empty()) return nullptr;
  void* ptr = it->second.back();
  it->second.pop_back();
  return ptr;
}

std::shared_ptr<Allocation> DeviceAllocator::allocate(std::size_t bytes, const char* what) {
  const std::size_t rounded = round_size(bytes);
  void* ptr = nullptr;
  std::weak_ptr<PrivatePool> pool;
  {
    std::lock_guard lock(mutex_);
    if (active_pool_) {
      // A capture: its own freed blocks first, then the general cache's (the block then belongs to the capture).
      pool = active_pool_;
      ptr = take_free(active_pool_->free_, rounded);
    }
    if (ptr == nullptr) ptr = take_free(free_, rounded);
    if (ptr != nullptr) {
      stats_.cached_bytes -= rounded;
    } else {
      CBEDNET_CUDA(what, cudaSetDevice(device_));
      cudaError_t err = cudaMalloc(&ptr, rounded);
      // Releasing the cache calls cudaFree, which a stream capture does not allow: during one, fail instead.
      if (err == cudaErrorMemoryAllocation && !active_pool_) {
        static_cast<void>(cudaGetLastError());  // clear the (non-sticky) error before retrying
        release_cache_locked();
        err = cudaMalloc(&ptr, rounded);
      }
      if (err != cudaSuccess) {
        static_cast<void>(cudaGetLastError());
        std::size_t free_bytes = 0, total_bytes = 0;
        static_cast<void>(cudaMemGetInfo(&free_bytes, &total_bytes));
        if (cuda_detail::is_sticky(err)) cuda_detail::throw_cuda(err, "cudaMalloc", __FILE__, __LINE__, what);
        throw_error<BackendError>("CUDA backend, ", what, ": cudaMalloc of ", rounded, " bytes (", bytes,
                                  " requested) failed with ", cudaGetErrorName(err), "; device ", device_, " has ",
                                  free_bytes, " of ", total_bytes, " bytes free, ", stats_.current_bytes,
                                  " bytes in use by CBEDNet tensors (peak ", stats_.peak_bytes, ")");
      }
      ++stats_.cuda_malloc_calls;
      stats_.reserved_bytes += rounded;
    }
    stats_.current_bytes += rounded;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.current_bytes);
  }
  return std::make_shared<DeviceBlock>(shared_from_this(), ptr, bytes, rounded, std::move(pool));
}

void DeviceAllocator::give_back(void* ptr, std::size_t rounded, const std::weak_ptr<PrivatePool>& pool) {
  // Declared before the lock: if this is the pool's last owner, its destructor (which locks) runs after unlocking.
  std::shared_ptr<PrivatePool> home;
  std::lock_guard lock(mutex_);
  stats_.current_bytes -= rounded;
  stats_.cached_bytes += rounded;
  // A block of a live pool goes back to it (that pool's graph writes it at every replay). Any other block freed
  // during a capture stays with the capture: its graph may have used the block before this free.
  home = pool.lock();
  if (!home) home = active_pool_;
  (home ? home->free_ : free_)[rounded].push_back(ptr);
}

std::shared_ptr<DeviceAllocator::PrivatePool> DeviceAllocator::begin_private_pool() {
  std::lock_guard lock(mutex_);
  CBEDNET_REQUIRE(!active_pool_, BackendError, "CUDA backend: a graph capture is already active on device ", device_);
  active_pool_ = std::make_shared<PrivatePool>(shared_from_this());
  return active_pool_;
}

void DeviceAllocator::end_private_pool() {
  std::shared_ptr<PrivatePool> ended;  // destroyed after unlocking, should the caller have dropped its copy
  std::lock_guard lock(mutex_);
  ended = std::move(active_pool_);
  active_pool_.reset();
}

void DeviceAllocator::release_cache() {
  std::lock_guard lock(mutex_);
  release_cache_locked();
}

void DeviceAllocator::release_cache_locked() {
  // Work queued on the stream may still read a cached block; cudaFree synchronises the device, so it is safe.
  static_cast<void>(cudaSetDevice(device_));
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) {
      static_cast<void>(cudaFree(p));
      stats_.reserved_bytes -= size;
      stats_.cached_bytes -= size;
    }
    blocks.clear();
  }
  free_.clear();
}

CudaMemoryStats DeviceAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace cbednet::cuda
