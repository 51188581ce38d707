#include "kernels/cuda/device_allocator.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "kernels/cuda/cuda_check.hpp"

namespace cbednet::cuda {

// One handed-out block; gives itself back to the cache when the last tensor referring to it dies.
class DeviceBlock final : public Allocation {
 public:
  DeviceBlock(std::shared_ptr<DeviceAllocator> owner, void* ptr, std::size_t bytes, std::size_t rounded)
      : owner_(std::move(owner)), ptr_(ptr), bytes_(bytes), rounded_(rounded) {}
  ~DeviceBlock() override { owner_->give_back(ptr_, rounded_); }
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;
  void* data() override { return ptr_; }
  std::size_t bytes() const override { return bytes_; }
  Device device() const override { return Device::cuda; }

 private:
  std::shared_ptr<DeviceAllocator> owner_;
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

std::shared_ptr<Allocation> DeviceAllocator::allocate(std::size_t bytes, const char* what) {
  const std::size_t rounded = round_size(bytes);
  void* ptr = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = free_.find(rounded);
    if (it != free_.end() && !it->second.empty()) {
      ptr = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= rounded;
    } else {
      CBEDNET_CUDA(what, cudaSetDevice(device_));
      cudaError_t err = cudaMalloc(&ptr, rounded);
      if (err == cudaErrorMemoryAllocation) {
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
  return std::make_shared<DeviceBlock>(shared_from_this(), ptr, bytes, rounded);
}

void DeviceAllocator::give_back(void* ptr, std::size_t rounded) {
  std::lock_guard lock(mutex_);
  free_[rounded].push_back(ptr);
  stats_.current_bytes -= rounded;
  stats_.cached_bytes += rounded;
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
