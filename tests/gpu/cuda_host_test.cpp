// Parts of the CUDA backend that can be checked without a GPU: the device Philox matches core/rng.hpp, the
// allocator's size classes, and the error when no device is present.
#include <gtest/gtest.h>

#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/device_allocator.hpp"
#include "kernels/cuda/dropout_rng.hpp"

namespace cbednet {
namespace {

TEST(CudaHost, DropoutUniformMatchesRandomStream) {
  const RandomStream stream(0xC0FFEEull, RngPurpose::dropout, 3);
  const auto& k = stream.key();
  for (std::uint64_t a : {0ull, 1ull, 17ull, 1ull << 40})
    for (std::uint64_t b : {0ull, 5ull, 123456789ull, (1ull << 33) + 7})
      EXPECT_EQ(cuda::philox_uniform(k[0], k[1], a, b), stream.uniform(a, b)) << a << "," << b;
}

TEST(CudaHost, AllocatorSizeClasses) {
  using cuda::DeviceAllocator;
  EXPECT_EQ(DeviceAllocator::round_size(0), 512u);
  EXPECT_EQ(DeviceAllocator::round_size(1), 512u);
  EXPECT_EQ(DeviceAllocator::round_size(512), 512u);
  EXPECT_EQ(DeviceAllocator::round_size(513), 1024u);
  EXPECT_EQ(DeviceAllocator::round_size((1u << 20) - 1), 1u << 20);
  EXPECT_EQ(DeviceAllocator::round_size(1u << 20), 2u << 20);
  EXPECT_EQ(DeviceAllocator::round_size((2u << 20) + 1), 4u << 20);
}

TEST(CudaHost, FactoryRejectsMissingDeviceOrBadPrecision) {
  if (!cuda_device_available()) {
    try {
      make_backend(BackendOptions{"cuda", "fp32", -1, 0});
      FAIL() << "expected InvalidArgument without a CUDA device";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("no usable CUDA device"), std::string::npos) << e.what();
    }
    return;
  }
  EXPECT_THROW(make_cuda_backend(BackendOptions{"cuda", "fp64", -1, 0}), InvalidArgument);
  EXPECT_THROW(make_cuda_backend(BackendOptions{"cuda", "fp32", 1000, 0}), InvalidArgument);
}

}  // namespace
}  // namespace cbednet
