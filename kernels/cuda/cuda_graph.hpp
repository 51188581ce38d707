// CUDA graphs: the CapturedWork of CudaBackend::capture (kernels/backend.hpp states the contract). The work is
// recorded by stream capture on the backend's compute stream, instantiated once, and replayed with one
// cudaGraphLaunch: one launch instead of one per kernel, so a small-batch inference forward stops being bound by
// the host's launch overhead. The device memory the graph reads and writes is kept reserved for its lifetime (a
// private pool of the caching allocator, device_allocator.hpp, plus the backend's workspaces as they were).
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/cuda/device_allocator.hpp"

namespace cbednet::cuda {

struct GraphDeleter {
  void operator()(cudaGraph_t graph) const noexcept { static_cast<void>(cudaGraphDestroy(graph)); }
};
struct GraphExecDeleter {
  void operator()(cudaGraphExec_t exec) const noexcept { static_cast<void>(cudaGraphExecDestroy(exec)); }
};
using GraphPtr = std::unique_ptr<std::remove_pointer_t<cudaGraph_t>, GraphDeleter>;
using GraphExecPtr = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, GraphExecDeleter>;

// One instantiated graph and the memory it was recorded with. Must not outlive the backend (its stream).
class CudaGraphWork final : public CapturedWork {
 public:
  CudaGraphWork(cudaStream_t stream, GraphPtr graph, GraphExecPtr exec,
                std::shared_ptr<DeviceAllocator::PrivatePool> pool, std::vector<std::shared_ptr<Allocation>> kept);
  // Waits for replays still queued, so that the pool's blocks are idle when they join the general cache.
  ~CudaGraphWork() override;
  CudaGraphWork(const CudaGraphWork&) = delete;
  CudaGraphWork& operator=(const CudaGraphWork&) = delete;

  void replay() override;  // cudaGraphLaunch on the compute stream

 private:
  cudaStream_t stream_;
  // Declared before the graph: released after it is destroyed.
  std::shared_ptr<DeviceAllocator::PrivatePool> pool_;
  std::vector<std::shared_ptr<Allocation>> kept_;  // blocks from before the capture the graph uses (workspaces)
  GraphPtr graph_;
  GraphExecPtr exec_;
};

}  // namespace cbednet::cuda
