// TrainingGraph on the CUDA backend (core/model/training_graph.hpp): a small ResNet-18's whole training step
// (micro-batches, loss statistics, batch-norm running statistics, SGD update) recorded once and replayed, in fp32
// and bf16 on cuDNN's legacy API: after every one of N steps the replaying graph's parameters, momentum, running
// statistics and loss statistics equal bit for bit those of the same steps run eagerly (a TrainingGraph that does
// not record), whose parameters in turn equal train_step's; further replays allocate nothing. Skipped without a
// CUDA device. Written without a GPU at hand: compiled here, run by scripts/gpu-run.sh on a GPU machine.
#include "core/model/training_graph.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>

#include "core/model/model.hpp"
#include "kernels/cuda/cuda_backend.hpp"

using namespace cbednet;

namespace {

std::unique_ptr<Backend> cuda_backend(const char* precision) {
  BackendOptions options{"cuda", precision, -1, 0};
  options.conv_api = "legacy";
  return make_cuda_backend(options);
}

ResNetSpec small_resnet18() {
  ResNetSpec spec = resnet_spec("resnet18");
  spec.base_width = 16;
  spec.input_size = 32;
  spec.classes = 10;
  return spec;
}

Tensor host_bits(Backend& backend, const Tensor& t) {
  Tensor out(t.shape(), t.dtype(), Layout::nchw);
  backend.copy(t, out);
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

struct Trained {
  Model model;
  Stage stage;
  SoftmaxCrossEntropy loss;
  SgdOptimizer optimizer;
  Trained(Backend& backend, const ResNetSpec& spec)
      : model(build_resnet(spec)),
        stage(backend, model, 0, model.size(), 7),
        loss(model.classes()),
        optimizer({0.9, 5e-5, false}) {}
};

void expect_replays_match_eager(const char* precision) {
  auto backend = cuda_backend(precision);
  const ResNetSpec spec = small_resnet18();
  Trained replaying(*backend, spec), eager(*backend, spec), stepped(*backend, spec);
  constexpr std::int64_t batch = 8;
  Tensor images(replaying.model.input_shape(batch), DType::f32), labels({batch, 1, 1, 1}, DType::i32);
  const RandomStream rng(3, RngPurpose::test);
  for (std::int64_t i = 0; i < images.count(); ++i)
    images.data<float>()[i] = static_cast<float>(rng.normal(static_cast<std::uint64_t>(i)));
  for (std::int64_t i = 0; i < batch; ++i) labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i % 10);
  const Tensor device_images = upload(*backend, images), device_labels = upload_labels(*backend, labels);
  TrainingGraph graph(replaying.stage, replaying.loss, replaying.optimizer, device_images, device_labels);
  TrainingGraph reference(eager.stage, eager.loss, eager.optimizer, device_images, device_labels, false);
  const std::string what = precision;
  constexpr int steps = 6;
  for (int s = 0; s < steps; ++s) {
    const TrainStepOptions options{4, 0.05, 0.1, 1, static_cast<std::uint64_t>(s), 1.0};
    graph.run(options);
    reference.run(options);
    const StepStats want_from_train_step =
        train_step(stepped.stage, stepped.loss, stepped.optimizer, device_images, labels, options);
    EXPECT_EQ(graph.replayed(), s >= 1) << what << ": step 0 eager, then recorded and replayed";
    const StepStats got = graph.stats(), want = reference.stats();
    EXPECT_EQ(got.loss_sum, want.loss_sum) << what << ", step " << s;
    EXPECT_EQ(got.correct, want.correct) << what << ", step " << s;
    EXPECT_EQ(got.correct, want_from_train_step.correct) << what << ", step " << s;
    EXPECT_NEAR(got.loss_sum, want_from_train_step.loss_sum, 1e-4 * std::abs(want_from_train_step.loss_sum));
    ParamStore &a = replaying.stage.store(), &b = eager.stage.store(), &c = stepped.stage.store();
    for (auto [name, ta, tb, tc] :
         {std::tuple{"parameters", &a.master(), &b.master(), &c.master()},
          {"momentum", &a.momentum(), &b.momentum(), &c.momentum()},
          {"running statistics", &a.buffer_storage(), &b.buffer_storage(), &c.buffer_storage()}}) {
      const Tensor ha = host_bits(*backend, *ta);
      EXPECT_TRUE(same_bits(ha, host_bits(*backend, *tb))) << what << ": " << name << " after step " << s;
      EXPECT_TRUE(same_bits(ha, host_bits(*backend, *tc))) << what << ": " << name << " against train_step, step " << s;
    }
  }
  EXPECT_EQ(graph.replays(), steps - 1) << what;
  EXPECT_EQ(replaying.optimizer.steps_taken(), steps) << what;
  backend->synchronize();
  const CudaMemoryStats before = memory_stats(*backend);
  for (int s = 0; s < 10; ++s) graph.run({4, 0.05, 0.1, 1, static_cast<std::uint64_t>(steps + s), 1.0});
  backend->synchronize();
  const CudaMemoryStats after = memory_stats(*backend);
  EXPECT_EQ(after.current_bytes, before.current_bytes) << what;
  EXPECT_EQ(after.reserved_bytes, before.reserved_bytes) << what;
  EXPECT_EQ(after.cuda_malloc_calls, before.cuda_malloc_calls) << what;
  EXPECT_EQ(graph.replays(), steps - 1 + 10) << what;
}

}  // namespace

TEST(CudaTrainingGraph, Fp32LegacyReplaysMatchEagerStepsBitwise) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  expect_replays_match_eager("fp32");
}

TEST(CudaTrainingGraph, Bf16LegacyReplaysMatchEagerStepsBitwise) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  expect_replays_match_eager("bf16");
}
