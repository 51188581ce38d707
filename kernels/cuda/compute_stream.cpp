#include "kernels/cuda/compute_stream.hpp"

#include "kernels/cuda/cuda_backend_impl.hpp"

namespace cbednet::cuda {

cudaStream_t compute_stream(Backend& backend, const char* what) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  CBEDNET_REQUIRE(cuda != nullptr, InvalidArgument, what, " needs the CUDA backend, got ", backend.name());
  return cuda->stream();
}

}  // namespace cbednet::cuda
