// Counter-based random numbers (Philox-4x32-10, Salmon et al., SC'11).
//
// Every random draw in CBEDNet (initialisation, shuffling, dropout, augmentation, the simulator) is a pure
// function of (seed, purpose, coordinates): results do not depend on the number of ranks or threads, and
// resuming a run needs only the step counter. The same function runs on the GPU (see kernels/cuda).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace cbednet {

// Why a number is drawn; part of the key, so streams for different purposes never overlap.
enum class RngPurpose : std::uint32_t {
  init = 1,      // parameter initialisation: (parameter index, element)
  shuffle = 2,   // epoch permutation: (epoch, position)
  dropout = 3,   // dropout masks: (step, layer, sample, element)
  augment = 4,   // data augmentation / view choice: (epoch, sample)
  simulate = 5,  // the CBED simulator: (material, draw)
  test = 6,      // tests
};

struct Philox {
  using Counter = std::array<std::uint32_t, 4>;
  using Key = std::array<std::uint32_t, 2>;

  static constexpr Counter round(Counter c, Key k) {
    constexpr std::uint64_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
    const std::uint64_t p0 = m0 * c[0], p1 = m1 * c[2];
    return {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<std::uint32_t>(p1),
            static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<std::uint32_t>(p0)};
  }
  static constexpr Counter generate(Counter c, Key k) {
    for (int i = 0; i < 10; ++i) {
      c = round(c, k);
      k[0] += 0x9E3779B9u;
      k[1] += 0xBB67AE85u;
    }
    return c;
  }
};

// One stream: key = (seed, purpose); each draw is addressed by two 64-bit coordinates.
class RandomStream {
 public:
  constexpr RandomStream(std::uint64_t seed, RngPurpose purpose, std::uint64_t sub = 0)
      : key_{static_cast<std::uint32_t>(seed ^ (sub * 0x9E3779B97F4A7C15ull)),
             static_cast<std::uint32_t>((seed >> 32) ^ (static_cast<std::uint64_t>(purpose) << 16) ^ (sub >> 32) ^
                                        (static_cast<std::uint32_t>(sub) * 0x85EBCA6Bu))} {}

  // Four independent 32-bit words for coordinates (a, b).
  constexpr Philox::Counter bits(std::uint64_t a, std::uint64_t b) const {
    return Philox::generate({static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32),
                             static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32)},
                            key_);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform(std::uint64_t a, std::uint64_t b = 0) const {
    const auto r = bits(a, b);
    const std::uint64_t x = (static_cast<std::uint64_t>(r[0]) << 21) ^ (static_cast<std::uint64_t>(r[1]) >> 11);
    return static_cast<double>(x & ((1ull << 53) - 1)) * 0x1.0p-53;
  }
  // Standard normal (Box–Muller on two uniforms of the same counter).
  double normal(std::uint64_t a, std::uint64_t b = 0) const {
    const auto r = bits(a, b);
    const double u1 = (static_cast<double>(r[0]) + 1.0) * 0x1.0p-32;  // (0, 1]
    const double u2 = static_cast<double>(r[1]) * 0x1.0p-32;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n, std::uint64_t a, std::uint64_t b = 0) const {
    return static_cast<std::uint64_t>(uniform(a, b) * static_cast<double>(n)) % (n == 0 ? 1 : n);
  }
  const Philox::Key& key() const { return key_; }

 private:
  Philox::Key key_;
};

}  // namespace cbednet
