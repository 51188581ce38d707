// Fixed-order fp64 sums for the CPU kernels' per-channel reductions (batch norm, its fused forms), and what the
// batch-norm backward makes of them.
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

// The batch-norm backward of one channel from its sums over m values, sum_g of the (masked) output gradient g and
// sum_gz of g * z, z = (x - mean) * invstd:
//   dx = gamma * invstd * (g - sum_g / m - z * sum_gz / m) = a g + b (x - centre) + k,
// with the coefficients in T so that the loop over the channel vectorizes.
template <typename T>
struct BatchNormBackwardTerms {
  T a, b, k, centre;
  BatchNormBackwardTerms(double gamma, double mean, double invstd, double sum_g, double sum_gz, double m)
      : a(static_cast<T>(gamma * invstd)),
        b(static_cast<T>(-gamma * invstd * invstd * (sum_gz / m))),
        k(static_cast<T>(-gamma * invstd * (sum_g / m))),
        centre(static_cast<T>(mean)) {}
  T dx(T g, T x) const { return a * g + b * (x - centre) + k; }
};

// dgamma (+)= sum_gz and dbeta (+)= sum_g, rounded once.
template <typename T>
void store_batchnorm_weight_gradients(T& dgamma, T& dbeta, double sum_gz, double sum_g, bool accumulate) {
  dgamma = static_cast<T>(accumulate ? dgamma + sum_gz : sum_gz);
  dbeta = static_cast<T>(accumulate ? dbeta + sum_g : sum_g);
}

}  // namespace cbednet::cpu
