// The step's flat-buffer updates on the CPU backends: bit for bit what the per-parameter and per-layer updates gave
// (tests/core/flat_update_checks.hpp), and the number of operations a step makes for them, counted by
// ProfilingBackend: one sgd_update_segments per store and one fold_running_statistics for every batch-norm running
// statistic, so a change back to one call per parameter or per layer fails here.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "kernels/profiling_backend.hpp"
#include "tests/core/flat_update_checks.hpp"

using namespace cbednet;
using cbednet::test::expect_flat_update_matches_per_parameter;
using cbednet::test::flat_update_spec;

TEST(FlatUpdates, ReferenceFp64MatchesPerParameterBitwise) {
  ReferenceBackend backend;
  for (const bool nesterov : {false, true}) expect_flat_update_matches_per_parameter(backend, nesterov);
}

TEST(FlatUpdates, FastFp32MatchesPerParameterBitwise) {
  CpuBackend<float> backend(0);
  for (const bool nesterov : {false, true}) expect_flat_update_matches_per_parameter(backend, nesterov);
}

TEST(FlatUpdates, FastFp64MatchesPerParameterBitwise) {
  CpuBackend<double> backend(0);
  for (const bool nesterov : {false, true}) expect_flat_update_matches_per_parameter(backend, nesterov);
}

TEST(FlatUpdates, OneSgdOperationPerStorePerStep) {
  CpuBackend<float> inner(1);
  ProfilingBackend backend(inner);
  Model model = build_resnet(flat_update_spec());
  Stage stage(backend, model, 0, model.size(), 1);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 1e-4, false});
  Tensor images(model.input_shape(4), DType::f32);
  Tensor labels({4, 1, 1, 1}, DType::i32);
  for (std::int64_t i = 0; i < images.count(); ++i) images.data<float>()[i] = static_cast<float>(i % 7) - 3.0f;
  for (std::int64_t i = 0; i < 4; ++i) labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i);
  std::int64_t batchnorms = 0;
  for (std::size_t b = 0; b < model.size(); ++b)
    for (Layer* layer : model.block(b).layers()) batchnorms += dynamic_cast<BatchNorm*>(layer) != nullptr;
  ASSERT_GT(batchnorms, 2);
  ASSERT_GT(stage.store().params().size(), 10u);
  const int steps = 2;
  backend.reset();
  for (int step = 0; step < steps; ++step)
    train_step(stage, loss, optimizer, images, labels, {2, 0.1, 0.1, 0, static_cast<std::uint64_t>(step), 1.0});
  std::map<std::string, long> calls;
  for (const auto& e : backend.entries()) calls[e.op] += e.calls;
  EXPECT_EQ(calls["sgd_update_segments"], steps) << "one SGD operation per store and step";
  EXPECT_EQ(calls["sgd_update"], 0) << "no per-parameter SGD update";
  EXPECT_EQ(calls["fold_running_statistics"], steps) << "the running statistics of every batch norm at once";
  EXPECT_EQ(calls["scale"], 0) << "no per-layer running-statistics update";
  // Per step: the two statistic sums of each batch norm per micro-batch (2 micro-batches), nothing more.
  EXPECT_EQ(calls["axpy"], steps * 2 * batchnorms * 2);
  EXPECT_EQ(calls["copy_segments"], 0) << "no compute-precision copies on the CPU";
}
