// The CUDA backend (cuDNN convolutions and batch norm, cuBLAS fully connected layers, CUDA kernels for the
// rest). This header has no CUDA includes, so host-only code (kernels/backend.cpp, the optimizer, the CLI)
// can use it in a CUDA build. Design and precision modes: docs/gpu-backend.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/backend.hpp"

namespace cbednet {

// options.precision: fp32 (TF32 off), tf32, bf16 or fp16; options.cuda_device: -1 picks the local rank's GPU
// (OMPI_COMM_WORLD_LOCAL_RANK / MPI_LOCALRANKID / SLURM_LOCALID modulo the device count).
// Throws InvalidArgument when no CUDA device is usable or the card cannot run the precision (bf16 needs sm_80+).
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);

// True when this process sees at least one usable CUDA device (never throws).
bool cuda_device_available();

// Device memory statistics of a CUDA backend's caching allocator.
struct CudaMemoryStats {
  std::size_t current_bytes = 0;   // handed out to live tensors and workspaces
  std::size_t peak_bytes = 0;      // maximum of current_bytes so far
  std::size_t cached_bytes = 0;    // held in free lists for reuse
  std::size_t reserved_bytes = 0;  // obtained from cudaMalloc and not yet released
  std::uint64_t cuda_malloc_calls = 0;
};

// Helpers for mixed precision that the generic Backend interface does not need. `backend` must be a CUDA
// backend (made by make_cuda_backend); otherwise they throw InvalidArgument.
//
// True when every element of t (a device tensor of any floating dtype) is finite: the overflow check of dynamic
// loss scaling. Synchronises with the backend's stream.
bool all_finite(Backend& backend, const Tensor& t);
CudaMemoryStats memory_stats(Backend& backend);

}  // namespace cbednet
