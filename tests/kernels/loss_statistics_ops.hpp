// Backend::loss_statistics (a training step's loss sum and top-1 count accumulated on the device): against the
// reference on random inputs, and against the values the test computes itself on probabilities with ties, a batch
// larger than one CUDA block's threads (each thread then takes several samples) and a stats tensor that already
// holds a sum (the operation adds to it).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/kernel_ops.hpp"

namespace cbednet::test {

inline NamedOps loss_statistics_ops() {
  return {{"loss_statistics twice", [](const Env& e) {
             const i64 n = 9, k = 6;
             Tensor probs = e.param(random_tensor({n, k, 1, 1}, 161, 0.0, 1.0));
             Tensor losses = e.param(random_tensor({n, 1, 1, 1}, 162, 0.0, 3.0));
             Tensor labels = e.in(labels_tensor(n, k, 163));
             Tensor stats = e.param(random_tensor({1, 2, 1, 1}, 164, 0.0, 4.0));
             e.backend.loss_statistics(probs, losses, labels, stats);
             e.backend.loss_statistics(probs, losses, labels, stats);
             return outputs(std::move(stats));
           }}};
}

// Rows of exact binary fractions (the same in every dtype): row i has its largest value twice, at columns a_i and
// b_i > a_i, so the FIRST maximum (a_i) is the prediction; the labels are a_i in half the rows, b_i in a quarter
// (so taking the last maximum would count other rows) and another column in the rest.
inline void expect_loss_statistics_definition(const Env& e) {
  const i64 n = 300, k = 5;
  Tensor probs({n, k, 1, 1}, DType::f64), losses({n, 1, 1, 1}, DType::f64), labels({n, 1, 1, 1}, DType::i32);
  double want_sum = 1.5;  // the stats' starting value
  double want_correct = 2.0;
  for (i64 i = 0; i < n; ++i) {
    const i64 a = i % 3, b = a + 1 + i % 2;
    for (i64 j = 0; j < k; ++j) probs.data<double>()[i * k + j] = j == a || j == b ? 0.375 : 0.0625;
    losses.data<double>()[i] = 0.25 * static_cast<double>(i % 8);
    const i64 label = i % 4 < 2 ? a : i % 4 == 2 ? b : (b + 1) % k;  // a twice as often as b: ties count
    labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(label);
    want_sum += losses.data<double>()[i];
    want_correct += label == a ? 1.0 : 0.0;
  }
  Tensor start({1, 2, 1, 1}, DType::f64);
  start.data<double>()[0] = 1.5;
  start.data<double>()[1] = 2.0;
  Tensor stats = e.param(start);
  e.backend.loss_statistics(e.param(probs), e.param(losses), e.in(labels), stats);
  const Tensor got = e.host_f64(stats);
  // Every addend and partial sum is a multiple of 1/4 below 2^10: exact in fp32 and fp64 in any order.
  EXPECT_EQ(got.data<double>()[0], want_sum) << "loss sum on " << e.backend.name();
  EXPECT_EQ(got.data<double>()[1], want_correct) << "correct count on " << e.backend.name();
}

}  // namespace cbednet::test
