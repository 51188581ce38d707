// Batch norms folded into their convolutions for inference (core/model/folded_conv.hpp, Stage::fold_batch_norms):
// the folded model gives the unfolded model's logits to rounding on every CPU backend, for basic and bottleneck
// networks with both stems, after training has moved the running statistics and the affine parameters away from
// their initial values; pre-activation units fold nothing and are unchanged; and a folded stage refuses to train.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "core/layers/softmax_cross_entropy.hpp"
#include "core/model/model.hpp"
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

// A few training steps with a large learning rate and batch-norm momentum: gamma, beta and the running
// statistics all differ from their initial 1, 0, 0, 1, so that every term of the fold is exercised.
void train_a_little(Stage& stage, const Model& model) {
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 1e-4, false});
  const Batch b = test::small_batch(model, 6, 3);
  for (int step = 0; step < 3; ++step)
    train_step(stage, loss, optimizer, b.images, b.labels, {3, 0.2, 0.5, 0, static_cast<std::uint64_t>(step), 1.0});
}

// Folded against unfolded logits on `backend`; returns how many batch norms were folded.
int expect_folded_matches(Backend& backend, const ResNetSpec& spec, double tolerance) {
  Model model = build_resnet(spec);
  Stage stage(backend, model, 0, model.size(), 7);
  train_a_little(stage, model);
  const Batch b = test::small_batch(model, 5, 11);
  const Tensor unfolded = predict_logits(stage, b.images, 5);
  const int folded = stage.fold_batch_norms();
  EXPECT_EQ(stage.folded_batch_norms(), folded);
  const Tensor with_folding = predict_logits(stage, b.images, 5);
  const double diff = max_relative_difference(unfolded, with_folding);
  EXPECT_LE(diff, tolerance) << spec.arch << " on " << backend.name();
  if (folded > 0) {
    EXPECT_GT(diff, 0.0) << "the folded path ran (it rounds differently)";
  }
  for (std::int64_t n = 0; n < 5; ++n) {  // the same class predicted for every sample
    const double* u = unfolded.data<double>() + n * spec.classes;
    const double* f = with_folding.data<double>() + n * spec.classes;
    EXPECT_EQ(std::max_element(u, u + spec.classes) - u, std::max_element(f, f + spec.classes) - f);
  }
  stage.unfold_batch_norms();
  const Tensor again = predict_logits(stage, b.images, 5);
  EXPECT_EQ(max_relative_difference(unfolded, again), 0.0) << "unfolding restores the batch-norm path exactly";
  return folded;
}

}  // namespace

TEST(FoldedBatchNorm, ReferenceFp64BasicNetworkAgreesToRounding) {
  ReferenceBackend backend;
  // Stem 1 + two basic blocks of 2 + one projection shortcut.
  EXPECT_EQ(expect_folded_matches(backend, test::small_resnet("basic:1,1", StemKind::small), 1e-12), 6);
}

TEST(FoldedBatchNorm, ReferenceFp64BottleneckImagenetStemAgreesToRounding) {
  ReferenceBackend backend;
  // Stem 1 + two bottlenecks of 3 + two projection shortcuts.
  EXPECT_EQ(expect_folded_matches(backend, test::small_resnet("bottleneck:1,1", StemKind::imagenet), 1e-12), 9);
}

TEST(FoldedBatchNorm, FastFp64AndFp32Agree) {
  CpuBackend<double> fp64(0);
  EXPECT_EQ(expect_folded_matches(fp64, test::small_resnet("bottleneck:1,1", StemKind::small), 1e-12), 9);
  CpuBackend<float> fp32(0);
  EXPECT_EQ(expect_folded_matches(fp32, test::small_resnet("basic:2,1", StemKind::imagenet), 1e-4), 8);
}

TEST(FoldedBatchNorm, PreActivationUnitsFoldNothing) {
  ReferenceBackend backend;
  EXPECT_EQ(expect_folded_matches(backend, test::small_resnet("preact-bottleneck:1,1", StemKind::small), 0.0), 0);
}

// One fused convolution per folded batch norm, and no batch-norm pass left.
TEST(FoldedBatchNorm, InferenceRunsOneFusedConvolutionPerFoldedBatchNorm) {
  CpuBackend<float> inner(1);
  ProfilingBackend backend(inner);
  Model model = build_resnet(test::small_resnet("basic:1,1", StemKind::imagenet));
  Stage stage(backend, model, 0, model.size(), 7);
  const int folded = stage.fold_batch_norms();
  backend.reset();
  predict_logits(stage, test::small_batch(model, 2, 1).images, 2);
  std::map<std::string, long> calls;
  for (const auto& e : backend.entries()) calls[e.op] += e.calls;
  EXPECT_EQ(calls["conv2d_bias_act_forward"], folded);
  EXPECT_EQ(calls["conv2d_forward"], 0);
  EXPECT_EQ(calls["batchnorm_forward_inference"], 0);
}

TEST(FoldedBatchNorm, AFoldedStageRefusesToTrain) {
  CpuBackend<float> backend(0);
  Model model = build_resnet(test::small_resnet("basic:1", StemKind::small));
  Stage stage(backend, model, 0, model.size(), 7);
  ASSERT_GT(stage.fold_batch_norms(), 0);
  try {
    train_a_little(stage, model);
    ADD_FAILURE() << "a folded stage trained";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("folded for inference"), std::string::npos) << e.what();
  }
  stage.unfold_batch_norms();
  EXPECT_NO_THROW(train_a_little(stage, model));
}
