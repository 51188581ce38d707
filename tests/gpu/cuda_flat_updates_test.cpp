// The step's flat-buffer updates on the GPU (tests/core/flat_update_checks.hpp): one sgd_update_segments launch per
// store, the batch-norm running statistics over the flat buffers, and in bf16 the mixed-precision gradient gather
// and weight refresh as one copy_segments launch each, give the bits of the per-parameter launches they replaced,
// step after step. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <memory>

#include "kernels/cuda/cuda_backend.hpp"
#include "tests/core/flat_update_checks.hpp"

using namespace cbednet;

namespace {

std::unique_ptr<Backend> cuda_or_skip(const char* precision) {
  if (!cuda_device_available()) return nullptr;
  return make_backend(BackendOptions{"cuda", precision, -1, 0});
}

}  // namespace

TEST(CudaFlatUpdates, Fp32MatchesPerParameterBitwise) {
  auto backend = cuda_or_skip("fp32");
  if (!backend) GTEST_SKIP() << "no CUDA device";
  for (const bool nesterov : {false, true}) test::expect_flat_update_matches_per_parameter(*backend, nesterov);
}

TEST(CudaFlatUpdates, Bf16MixedPrecisionMatchesPerParameterBitwise) {
  auto backend = cuda_or_skip("bf16");
  if (!backend) GTEST_SKIP() << "no CUDA device";
  ASSERT_NE(backend->dtype(), backend->param_dtype()) << "bf16 keeps fp32 master weights";
  for (const bool nesterov : {false, true}) test::expect_flat_update_matches_per_parameter(*backend, nesterov);
}
