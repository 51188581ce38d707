// Fixed-order fp64 sums for the CPU kernels' per-channel reductions (batch norm, its fused forms).
#pragma once

#include <cstdint>
#include <utility>

namespace cbednet::cpu {

// Sums of f(i) and g(i) for i in [0, n) in one pass, each in 8 interleaved fp64 partial sums: a fixed order
// (so the same bits for any thread count) that the compiler can keep in vector registers.
template <typename F, typename G>
std::pair<double, double> lane_sums(std::int64_t n, F&& f, G&& g) {
  double a[8] = {}, b[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      a[j] += f(i + j);
      b[j] += g(i + j);
    }
  double ta = 0.0, tb = 0.0;
  for (; i < n; ++i) {
    ta += f(i);
    tb += g(i);
  }
  const auto total = [](const double* v, double tail) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])) + tail;
  };
  return {total(a, ta), total(b, tb)};
}

template <typename F>
double lane_sum(std::int64_t n, F&& f) {
  return lane_sums(n, f, [](std::int64_t) { return 0.0; }).first;
}

}  // namespace cbednet::cpu
