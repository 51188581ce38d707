// CudaBackend::capture and the replayable graph it returns (cuda_graph.hpp).
#include "kernels/cuda/cuda_graph.hpp"

#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <utility>

#include "kernels/cuda/cuda_backend_impl.hpp"
#include "kernels/cuda/cuda_check.hpp"

namespace cbednet::cuda {

CudaGraphWork::CudaGraphWork(cudaStream_t stream, GraphPtr graph, GraphExecPtr exec,
                             std::shared_ptr<DeviceAllocator::PrivatePool> pool,
                             std::vector<std::shared_ptr<Allocation>> kept)
    : stream_(stream),
      pool_(std::move(pool)),
      kept_(std::move(kept)),
      graph_(std::move(graph)),
      exec_(std::move(exec)) {}

CudaGraphWork::~CudaGraphWork() { static_cast<void>(cudaStreamSynchronize(stream_)); }

void CudaGraphWork::replay() { CBEDNET_CUDA("CUDA graph replay", cudaGraphLaunch(exec_.get(), stream_)); }

namespace {

// The one notice of a failed capture; the caller runs the work eagerly instead.
std::unique_ptr<CapturedWork> capture_failed(const std::string& why) {
  std::cerr << "cbednet: CUDA graph capture failed (" << why << "); running eagerly instead\n";
  static_cast<void>(cudaGetLastError());  // a capture error is not sticky: clear it so later calls do not see it
  return nullptr;
}

bool capture_invalidated(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  return cudaStreamIsCapturing(stream, &status) == cudaSuccess && status == cudaStreamCaptureStatusInvalidated;
}

// Ends a capture that `work` broke off and drops whatever it recorded; the stream can be used again afterwards.
void discard_capture(cudaStream_t stream) {
  cudaGraph_t partial = nullptr;
  static_cast<void>(cudaStreamEndCapture(stream, &partial));
  const GraphPtr dropped(partial);
  static_cast<void>(cudaGetLastError());
}

// Ends the allocator's private pool however capture() leaves.
class PrivatePoolScope {
 public:
  explicit PrivatePoolScope(DeviceAllocator& allocator) : allocator_(allocator) {}
  ~PrivatePoolScope() { allocator_.end_private_pool(); }
  PrivatePoolScope(const PrivatePoolScope&) = delete;
  PrivatePoolScope& operator=(const PrivatePoolScope&) = delete;

 private:
  DeviceAllocator& allocator_;
};

}  // namespace

std::unique_ptr<CapturedWork> CudaBackend::capture(const std::function<void()>& work) {
  const char* op = "CUDA graph capture";
  CBEDNET_CUDA(op, cudaSetDevice(device_));
  // Blocks from before the capture that the recorded work may use: the graph keeps them even if the backend
  // replaces its workspace later (growing it frees the old block).
  std::vector<std::shared_ptr<Allocation>> kept{workspace_, cublas_workspace_, finite_flag_};
  auto pool = alloc_->begin_private_pool();
  const PrivatePoolScope pool_scope(*alloc_);
  // Relaxed, not Global or ThreadLocal: the caching allocator calls cudaMalloc while recording when its caches
  // have no block of the size, and the runtime documents cudaMalloc as one of the "potentially unsafe" calls that
  // the two stricter modes prohibit on the capturing thread (cudaThreadExchangeStreamCaptureMode: the allocation is
  // not enqueued, so a graph that relied on it being redone at every launch would be wrong). Here that is intended:
  // the block is allocated once and stays reserved in the capture's private pool for the graph's lifetime, so every
  // replay finds it at the same address. What necessarily conflicts with capture (synchronising the stream, reading
  // results back) still fails in Relaxed mode, and lands in the fallback below.
  const cudaError_t begun = cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeRelaxed);
  if (begun != cudaSuccess) return capture_failed(std::string("cudaStreamBeginCapture: ") + cudaGetErrorName(begun));
  try {
    work();
  } catch (const CudaFatalError&) {
    throw;  // the context is gone; nothing to end
  } catch (const std::exception& e) {
    const bool broke_capture = capture_invalidated(stream_.get()) || std::strstr(e.what(), "StreamCapture") != nullptr;
    discard_capture(stream_.get());
    if (!broke_capture) throw;
    return capture_failed(e.what());
  } catch (...) {
    discard_capture(stream_.get());
    throw;
  }
  cudaGraph_t raw_graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream_.get(), &raw_graph);
  GraphPtr graph(raw_graph);
  if (ended != cudaSuccess || !graph)
    return capture_failed(std::string("cudaStreamEndCapture: ") + cudaGetErrorName(ended));
  cudaGraphExec_t raw_exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&raw_exec, graph.get(), 0ULL);  // CUDA 12+: flags, no error node
  GraphExecPtr exec(raw_exec);
  if (made != cudaSuccess || !exec)
    return capture_failed(std::string("cudaGraphInstantiate: ") + cudaGetErrorName(made));
  kept.push_back(workspace_);  // the workspaces as the recording left them
  kept.push_back(cublas_workspace_);
  return std::make_unique<CudaGraphWork>(stream_.get(), std::move(graph), std::move(exec), std::move(pool),
                                         std::move(kept));
}

}  // namespace cbednet::cuda
