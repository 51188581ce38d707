// Training behaviour: a tiny ResNet overfits a few random samples; fixed seeds give bit-identical runs;
// batch-norm running statistics follow their definition; the optimizer and schedule do what they say.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/model/train_step.hpp"
#include "core/optim/loss_scaler.hpp"
#include "core/optim/lr_schedule.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"

using namespace cbednet;

namespace {

ResNetSpec tiny_spec() {
  ResNetSpec spec = resnet_spec("basic:1,1");
  spec.base_width = 8;
  spec.input_size = 12;
  spec.classes = 4;
  spec.stem = StemKind::small;
  return spec;
}

struct Data {
  Tensor images, labels;
};

Data make_data(const Model& model, std::int64_t n, DType dtype, std::uint64_t seed) {
  Data d{Tensor(model.input_shape(n), DType::f64), Tensor({n, 1, 1, 1}, DType::i32)};
  const RandomStream s(seed, RngPurpose::test);
  for (std::int64_t i = 0; i < d.images.count(); ++i)
    d.images.data<double>()[i] = s.normal(static_cast<std::uint64_t>(i));
  for (std::int64_t i = 0; i < n; ++i)
    d.labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i % model.classes());
  if (dtype != DType::f64) d.images = d.images.to_dtype(dtype);
  return d;
}

// Runs `steps` steps; returns the losses and a copy of the final parameters (as f64).
std::pair<std::vector<double>, std::vector<double>> run(Backend& backend, int steps, std::int64_t micro,
                                                        double loss_scale = 1.0) {
  Model model = build_resnet(tiny_spec());
  Stage stage(backend, model, 0, model.size(), 1234);
  SoftmaxCrossEntropy loss(model.classes(), 0.1);
  SgdOptimizer opt({0.9, 1e-4, true});
  const Data data = make_data(model, 8, backend.dtype(), 99);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s)
    losses.push_back(train_step(stage, loss, opt, data.images, data.labels,
                                {micro, 0.05, 0.1, 7, static_cast<std::uint64_t>(s), loss_scale})
                         .loss_sum);
  const Tensor params = download_f64(backend, stage.store().master());
  return {losses, std::vector<double>(params.data<double>(), params.data<double>() + params.count())};
}

}  // namespace

TEST(Training, TinyResNetOverfitsSixteenSamples) {
  CpuBackend<float> backend(0);
  Model model = build_resnet(tiny_spec());
  Stage stage(backend, model, 0, model.size(), 5);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer opt({0.9, 0.0, false});
  const Data data = make_data(model, 16, DType::f32, 17);
  double first = 0, last = 0;
  for (int s = 0; s < 60; ++s) {
    const auto stats =
        train_step(stage, loss, opt, data.images, data.labels, {0, 0.05, 0.1, 1, static_cast<std::uint64_t>(s)});
    if (s == 0) first = stats.mean_loss();
    last = stats.mean_loss();
  }
  EXPECT_LT(last, 0.1 * first);
  // Accuracy in evaluation mode (running statistics) on the same 16 samples.
  const auto predicted = argmax_rows(predict_logits(stage, data.images));
  int correct = 0;
  for (std::int64_t i = 0; i < 16; ++i) correct += predicted[i] == data.labels.data<std::int32_t>()[i] ? 1 : 0;
  EXPECT_EQ(correct, 16);
}

TEST(Training, DeterministicFp64Reference) {
  ReferenceBackend a, b;
  const auto ra = run(a, 3, 4), rb = run(b, 3, 4);
  EXPECT_EQ(ra.first, rb.first);
  EXPECT_EQ(ra.second, rb.second);
}

TEST(Training, DeterministicFp32Fast) {
  CpuBackend<float> a(0), b(0);
  const auto ra = run(a, 3, 0), rb = run(b, 3, 0);
  EXPECT_EQ(ra.first, rb.first);
  EXPECT_EQ(ra.second, rb.second);
}

TEST(Training, FastFp64MatchesReference) {
  ReferenceBackend ref;
  CpuBackend<double> fast(0);
  const auto rr = run(ref, 2, 4), rf = run(fast, 2, 4);
  for (std::size_t i = 0; i < rr.first.size(); ++i)
    EXPECT_NEAR(rf.first[i], rr.first[i], 1e-10 * std::abs(rr.first[i]));
  double diff = 0, ref_norm = 0;
  for (std::size_t i = 0; i < rr.second.size(); ++i) {
    diff = std::max(diff, std::abs(rf.second[i] - rr.second[i]));
    ref_norm = std::max(ref_norm, std::abs(rr.second[i]));
  }
  EXPECT_LT(diff / ref_norm, 1e-10);
}

// running = 0.9 running + 0.1 * mean over micro-batches of (batch mean, unbiased batch var).
TEST(Training, BatchNormRunningStatisticsFollowDefinition) {
  ReferenceBackend backend;
  BatchNorm bn("bn", 3, Activation::none);
  std::vector<Tensor> params, grads, buffers;
  for (const auto& s : bn.param_specs()) {
    params.emplace_back(s.shape, DType::f64);
    grads.emplace_back(s.shape, DType::f64);
  }
  backend.fill(params[0], 1.0);
  for (const auto& s : bn.buffer_specs()) {
    buffers.emplace_back(s.shape, DType::f64);
    backend.fill(buffers.back(), s.initial_value);
  }
  Tensor running_mean = buffers[0].view(), running_var = buffers[1].view();
  bn.bind(std::move(params), std::move(grads), std::move(buffers));

  const RandomStream s(1, RngPurpose::test);
  double expect_mean[3] = {}, expect_var[3] = {};
  for (int micro = 0; micro < 2; ++micro) {
    Tensor x({4, 3, 2, 5}, DType::f64);
    for (std::int64_t i = 0; i < x.count(); ++i) x.data<double>()[i] = 2.0 + 3.0 * s.normal(i, micro);
    for (int c = 0; c < 3; ++c) {
      double sum = 0, sq = 0;
      const int m = 4 * 2 * 5;
      for (int n = 0; n < 4; ++n)
        for (int k = 0; k < 10; ++k) sum += x.data<double>()[(n * 3 + c) * 10 + k];
      const double mean = sum / m;
      for (int n = 0; n < 4; ++n)
        for (int k = 0; k < 10; ++k) sq += std::pow(x.data<double>()[(n * 3 + c) * 10 + k] - mean, 2);
      expect_mean[c] += mean / 2;
      expect_var[c] += sq / (m - 1) / 2;
    }
    bn.forward_train(backend, x, nullptr);
  }
  bn.update_running_statistics(backend, 0.1, 2);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(running_mean.data<double>()[c], 0.1 * expect_mean[c], 1e-12);
    EXPECT_NEAR(running_var.data<double>()[c], 0.9 + 0.1 * expect_var[c], 1e-12);
  }
}

TEST(Optimizer, WeightDecayOnlyOnWeights) {
  ReferenceBackend backend;
  Model model = build_resnet(tiny_spec());
  Stage stage(backend, model, 0, model.size(), 3);
  std::vector<std::vector<double>> before;
  for (auto& p : stage.store().params())
    before.emplace_back(p.master.data<double>(), p.master.data<double>() + p.shape.count());
  stage.store().zero_grad();
  SgdOptimizer opt({0.9, 0.1, false});
  opt.step(stage.store(), 0.5);  // zero gradients: only weight decay moves anything
  std::size_t i = 0;
  for (auto& p : stage.store().params()) {
    const double* now = p.master.data<double>();
    const double factor = is_decayed(p.kind) ? 1.0 - 0.5 * 0.1 : 1.0;
    for (std::int64_t k = 0; k < p.shape.count(); ++k) ASSERT_DOUBLE_EQ(now[k], factor * before[i][k]) << p.name;
    ++i;
  }
}

TEST(Optimizer, LearningRateSchedule) {
  LrSchedule cosine{0.4, 10, 0.1, 110, LrSchedule::Decay::cosine, 0.0, {}, 0.1};
  EXPECT_DOUBLE_EQ(cosine.lr(0), 0.04);
  EXPECT_NEAR(cosine.lr(5), 0.04 + 0.5 * 0.36, 1e-15);
  EXPECT_DOUBLE_EQ(cosine.lr(10), 0.4);
  EXPECT_NEAR(cosine.lr(60), 0.2, 1e-15);
  EXPECT_NEAR(cosine.lr(110), 0.0, 1e-15);
  LrSchedule step{1.0, 0, 0.1, 100, LrSchedule::Decay::step, 0.0, {30, 60}, 0.1};
  EXPECT_DOUBLE_EQ(step.lr(29), 1.0);
  EXPECT_DOUBLE_EQ(step.lr(30), 0.1);
  EXPECT_NEAR(step.lr(75), 0.01, 1e-15);
  EXPECT_THROW(parse_decay("linear"), InvalidArgument);
}

// A power-of-two loss scale multiplies every gradient exactly and the update divides it out exactly, so training
// with it is bit for bit training without it (fp64 reference with micro-batches, fast fp32 without).
TEST(LossScaling, PowerOfTwoScaleChangesNoBit) {
  ReferenceBackend a, b;
  const auto plain = run(a, 3, 4), scaled = run(b, 3, 4, 1024.0);
  EXPECT_EQ(plain.first, scaled.first);
  EXPECT_EQ(plain.second, scaled.second);
  CpuBackend<float> c(0), d(0);
  const auto plain32 = run(c, 3, 0), scaled32 = run(d, 3, 0, 65536.0);
  EXPECT_EQ(plain32.first, scaled32.first);
  EXPECT_EQ(plain32.second, scaled32.second);
}

TEST(LossScaling, ScalerHalvesOnOverflowAndDoublesAfterTheInterval) {
  DynamicLossScaler scaler({/*initial=*/1024, /*growth=*/2, /*backoff=*/0.5, /*interval=*/3, /*min=*/1, /*max=*/4096});
  EXPECT_EQ(scaler.scale(), 1024);
  EXPECT_TRUE(scaler.update(false));
  EXPECT_TRUE(scaler.update(false));
  EXPECT_EQ(scaler.scale(), 1024);
  EXPECT_TRUE(scaler.update(false));  // third finite step in a row
  EXPECT_EQ(scaler.scale(), 2048);
  EXPECT_EQ(scaler.good_steps(), 0);
  EXPECT_TRUE(scaler.update(false));
  EXPECT_TRUE(scaler.update(true));  // an overflow resets the run of finite steps
  EXPECT_EQ(scaler.scale(), 1024);
  EXPECT_EQ(scaler.good_steps(), 0);
  for (int i = 0; i < 9; ++i) scaler.update(false);
  EXPECT_EQ(scaler.scale(), 4096);  // capped at the maximum
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(scaler.update(true));
  EXPECT_EQ(scaler.scale(), 1);
  EXPECT_FALSE(scaler.update(true)) << "an overflow at the minimum scale is not the scale's doing";
  scaler.restore(256, 2);
  EXPECT_EQ(scaler.scale(), 256);
  EXPECT_TRUE(scaler.update(false));
  EXPECT_EQ(scaler.scale(), 512);
}

TEST(LossScaling, RejectsScalesThatAreNotPowersOfTwo) {
  EXPECT_THROW(DynamicLossScaler({1000, 2, 0.5, 10, 1, 65536}), InvalidArgument);
  EXPECT_THROW(DynamicLossScaler({1024, 3, 0.5, 10, 1, 65536}), InvalidArgument);
  EXPECT_THROW(DynamicLossScaler({1024, 2, 0.5, 0, 1, 65536}), InvalidArgument);
  EXPECT_THROW(DynamicLossScaler({131072, 2, 0.5, 10, 1, 65536}), InvalidArgument);
  DynamicLossScaler ok({1024, 2, 0.5, 10, 1, 65536});
  EXPECT_THROW(ok.restore(3, 0), InvalidArgument);
}
