// The one thing of the CUDA backend that communication code (core/parallel/nccl_transport.cpp) needs: the stream
// the backend queues its work on, so that transfers can be ordered after it with an event. Code outside the backend
// includes this instead of cuda_backend_impl.hpp.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/backend.hpp"

namespace cbednet::cuda {

// The compute stream of `backend`, which must be a CUDA backend (made by make_cuda_backend); otherwise throws
// InvalidArgument "<what> needs the CUDA backend, got <name>". The stream lives as long as the backend.
cudaStream_t compute_stream(Backend& backend, const char* what);

}  // namespace cbednet::cuda
