// The dropout uniform of core/rng.hpp's RandomStream::uniform, callable from host and device code, so that the
// GPU draws exactly the CPU's numbers (the host side is tested against RandomStream in tests/gpu).
#pragma once

#include <cstdint>

#include "core/rng.hpp"

#if defined(__CUDACC__)
#define CBEDNET_HOST_DEVICE __host__ __device__
#else
#define CBEDNET_HOST_DEVICE
#endif

namespace cbednet::cuda {

// Same bits as RandomStream{key}.uniform(a, b): Philox-4x32-10 of the counter (a, b), 53-bit mantissa.
CBEDNET_HOST_DEVICE inline double philox_uniform(std::uint32_t k0, std::uint32_t k1, std::uint64_t a, std::uint64_t b) {
  const Philox::Counter r =
      Philox::generate(Philox::Counter{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32),
                                       static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32)},
                       Philox::Key{k0, k1});
  const std::uint64_t x = (static_cast<std::uint64_t>(r[0]) << 21) ^ (static_cast<std::uint64_t>(r[1]) >> 11);
  return static_cast<double>(x & ((1ull << 53) - 1)) * 0x1.0p-53;
}

}  // namespace cbednet::cuda
