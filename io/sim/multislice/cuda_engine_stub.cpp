// make_cuda_engine in a build without CUDA: a clear error instead of a missing symbol.
#include "core/error.hpp"
#include "io/sim/multislice/engine.hpp"

namespace cbednet::io::sim::multislice {

std::unique_ptr<MultisliceEngine> make_cuda_engine(int /*device*/) {
  throw_error<InvalidArgument>(
      "--engine cuda: this cbednet was built without CUDA (configure with -DCBEDNET_CUDA=ON); use --engine cpu");
}

bool cuda_engine_built() { return false; }

}  // namespace cbednet::io::sim::multislice
