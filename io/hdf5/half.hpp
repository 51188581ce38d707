// IEEE 754 binary16 <-> float32 for the packed layout's float16 images. The packed reader converts itself
// rather than letting HDF5 convert, because an HDF5 type conversion silently turns collective MPI-IO reads into
// independent ones.
#pragma once

#include <cstdint>
#include <cstring>

namespace cbednet::io {

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
  std::uint32_t exp = (h >> 10) & 0x1FU;
  std::uint32_t mant = h & 0x3FFU;
  std::uint32_t bits = 0;
  if (exp == 0x1FU) {
    bits = sign | 0x7F800000U | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112U) << 23) | (mant << 13);
  } else if (mant != 0) {  // subnormal: renormalise
    exp = 113;
    while ((mant & 0x400U) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3FFU) << 13);
  } else {
    bits = sign;
  }
  float f = 0.0F;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest, ties to even; overflow becomes infinity.
inline std::uint16_t float_to_half(float f) {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, sizeof x);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000U);
  const std::uint32_t abs = x & 0x7FFFFFFFU;
  if (abs >= 0x7F800000U) return sign | (abs > 0x7F800000U ? 0x7E00U : 0x7C00U);
  if (abs >= 0x477FF000U) return sign | 0x7C00U;  // rounds above 65504
  if (abs < 0x38800000U) {                        // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000U) return sign;
    const std::uint32_t mant = (abs & 0x7FFFFFU) | 0x800000U;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
    const std::uint32_t q = mant >> shift;
    const std::uint32_t rem = mant & ((1U << shift) - 1U);
    const std::uint32_t halfway = 1U << (shift - 1);
    return sign | static_cast<std::uint16_t>(q + ((rem > halfway || (rem == halfway && (q & 1U))) ? 1U : 0U));
  }
  const std::uint32_t base = ((abs >> 23) - 112U) << 10 | ((abs >> 13) & 0x3FFU);
  const std::uint32_t rem = abs & 0x1FFFU;
  return sign | static_cast<std::uint16_t>(base + ((rem > 0x1000U || (rem == 0x1000U && (base & 1U))) ? 1U : 0U));
}

}  // namespace cbednet::io
