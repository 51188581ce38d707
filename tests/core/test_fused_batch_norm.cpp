// Training through the fused batch-norm operations (Block::set_fused_batch_norm, Backend's "fused batch norm for
// training"): statistics out of each convolution, normalisation inside the next. On the fp64 reference it gives the
// unfused path's gradients, parameters, running statistics and losses to rounding, for basic and bottleneck
// networks with identity and projection shortcuts, with micro-batches; recomputing blocks changes nothing; the fused
// operations are the ones that ran; pre-activation units keep their own path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "core/layers/softmax_cross_entropy.hpp"
#include "core/model/model.hpp"
#include "core/model/resnet_blocks.hpp"
#include "core/model/stage.hpp"
#include "core/model/train_step.hpp"
#include "core/optim/sgd.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "kernels/profiling_backend.hpp"
#include "tests/core/small_resnet.hpp"

using namespace cbednet;
using test::Batch;
using test::max_relative_difference;

namespace {

Tensor host_copy(Backend& backend, const Tensor& t) {
  Tensor out(t.shape(), DType::f64, Layout::nchw);
  backend.copy(t, out);
  return out;
}

// What a training run leaves: the parameters, the running statistics, the last step's gradients and losses.
struct Trained {
  Tensor params, buffers, grads;
  std::vector<double> losses;
};

Trained train(Backend& backend, const ResNetSpec& spec, bool fused, Stage::Recompute recompute, int steps = 3) {
  Model model = build_resnet(spec);
  Stage stage(backend, model, 0, model.size(), 7);
  stage.set_fused_batch_norm(fused);
  stage.set_recompute(recompute);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 1e-4, false});
  const Batch b = test::small_batch(model, 6, 3);
  Trained out;
  for (int step = 0; step < steps; ++step) {
    const StepStats s =
        train_step(stage, loss, optimizer, b.images, b.labels, {3, 0.2, 0.5, 0, static_cast<std::uint64_t>(step), 1.0});
    out.losses.push_back(s.mean_loss());
  }
  out.params = host_copy(backend, stage.store().master());
  out.buffers = host_copy(backend, stage.store().buffer_storage());
  out.grads = host_copy(backend, stage.store().grad());
  return out;
}

void expect_fused_matches(Backend& backend, const ResNetSpec& spec, double tolerance) {
  const Trained plain = train(backend, spec, false, Stage::Recompute::none);
  const Trained fused = train(backend, spec, true, Stage::Recompute::none);
  EXPECT_LE(max_relative_difference(plain.grads, fused.grads), tolerance) << spec.arch << ": gradients";
  EXPECT_LE(max_relative_difference(plain.params, fused.params), tolerance) << spec.arch << ": parameters";
  EXPECT_LE(max_relative_difference(plain.buffers, fused.buffers), tolerance) << spec.arch << ": running statistics";
  EXPECT_GT(max_relative_difference(plain.grads, fused.grads), 0.0) << "the fused path ran (it rounds differently)";
  for (std::size_t i = 0; i < plain.losses.size(); ++i)
    EXPECT_NEAR(plain.losses[i], fused.losses[i], tolerance * std::abs(plain.losses[i])) << "step " << i;
}

}  // namespace

TEST(FusedBatchNorm, ReferenceFp64BasicNetworkTrainsAsUnfused) {
  ReferenceBackend backend;
  expect_fused_matches(backend, test::small_resnet("basic:1,1", StemKind::small), 1e-10);
}

TEST(FusedBatchNorm, ReferenceFp64BottleneckNetworkTrainsAsUnfused) {
  ReferenceBackend backend;
  expect_fused_matches(backend, test::small_resnet("bottleneck:1,1", StemKind::imagenet), 1e-10);
}

TEST(FusedBatchNorm, FastCpuFp64TrainsAsUnfused) {
  CpuBackend<double> backend(0);
  expect_fused_matches(backend, test::small_resnet("basic:1,1", StemKind::small), 1e-10);
  expect_fused_matches(backend, test::small_resnet("bottleneck:1,1", StemKind::imagenet), 1e-10);
}

TEST(FusedBatchNorm, FastCpuFp32TrainsAsUnfused) {
  CpuBackend<float> backend(0);
  expect_fused_matches(backend, test::small_resnet("bottleneck:1,1", StemKind::small), 2e-4);
}

// A recomputed block's forward adds its batch statistics again; the stage puts the sums back (Stage::recompute_block)
// on the fused path as on the plain one.
TEST(FusedBatchNorm, RecomputingBlocksChangesNothing) {
  ReferenceBackend backend;
  const ResNetSpec spec = test::small_resnet("bottleneck:1,1", StemKind::small);
  const Trained kept = train(backend, spec, true, Stage::Recompute::none);
  const Trained recomputed = train(backend, spec, true, Stage::Recompute::blocks);
  EXPECT_EQ(max_relative_difference(kept.params, recomputed.params), 0.0);
  EXPECT_EQ(max_relative_difference(kept.buffers, recomputed.buffers), 0.0);
}

// Residual blocks run the fused operations and no batch-norm training pass of their own (the stem and the head keep
// theirs); every block takes the path, pre-activation units none.
TEST(FusedBatchNorm, ResidualBlocksRunTheFusedOperations) {
  CpuBackend<float> inner(1);
  ProfilingBackend backend(inner);
  Model model = build_resnet(test::small_resnet("bottleneck:1,1", StemKind::small));
  Stage stage(backend, model, 0, model.size(), 7);
  EXPECT_EQ(stage.set_fused_batch_norm(true), 2);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 1e-4, false});
  const Batch b = test::small_batch(model, 4, 1);
  backend.reset();
  train_step(stage, loss, optimizer, b.images, b.labels, {0, 0.1, 0.1, 0, 0, 1.0});
  std::map<std::string, long> calls;
  for (const auto& e : backend.entries()) calls[e.op] += e.calls;
  // Two bottlenecks of three convolutions, each with a projection shortcut.
  EXPECT_EQ(calls["conv2d_stats_forward"], 8);
  EXPECT_EQ(calls["batchnorm_finalize"], 8);
  EXPECT_EQ(calls["scale_bias_act_forward"], 2);
  EXPECT_EQ(calls["conv2d_backward_data_norm_relu"], 4);
  EXPECT_EQ(calls["conv2d_backward_filter_norm_relu"], 4);
  EXPECT_EQ(calls["batchnorm_forward_training"], 1) << "the stem's";
  EXPECT_EQ(calls["batchnorm_backward"], 1 + 2) << "the stem's and each shortcut's";
  EXPECT_EQ(calls["batchnorm_add_backward"], 2) << "each block's end";

  Model preact = build_resnet(test::small_resnet("preact-bottleneck:1,1", StemKind::small));
  Stage preact_stage(inner, preact, 0, preact.size(), 7);
  EXPECT_EQ(preact_stage.set_fused_batch_norm(true), 0);
}

// The fused path keeps each convolution's output and the block's output, not every batch norm's output too.
TEST(FusedBatchNorm, ABlockKeepsFewerActivationsFused) {
  ResidualBlock block("b", ResidualBlock::Kind::bottleneck, 8, 4, 2, false);
  const Shape in{1, 8, 8, 8};
  const std::int64_t plain = block.cost(in).saved_elements;
  block.set_fused_batch_norm(true);
  const std::int64_t fused = block.cost(in).saved_elements;
  // Input 512; outputs of the three convolutions 4*8*8, 4*4*4, 16*4*4 and of the shortcut 16*4*4.
  EXPECT_EQ(plain, 512 + 2 * (256 + 64 + 256) + 2 * 256);
  EXPECT_EQ(fused, 512 + (256 + 64 + 256) + 256 + 256);
}
