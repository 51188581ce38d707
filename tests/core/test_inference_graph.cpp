// InferenceGraph (core/model/inference_graph.hpp) on backends that cannot record (the CPU backends and
// ProfilingBackend): nothing is captured and run() is the plain evaluation forward, bit for bit what a direct
// forward gives, for successive inputs copied into the same persistent input(). The CUDA graph path is
// tests/gpu/cuda_graph_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/model/inference_graph.hpp"
#include "core/model/model.hpp"
#include "core/model/stage.hpp"
#include "core/model/train_step.hpp"
#include "core/train/evaluation.hpp"
#include "core/train/memory_batch_source.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "kernels/profiling_backend.hpp"

using namespace cbednet;

namespace {

ResNetSpec small_resnet() {
  ResNetSpec spec = resnet_spec("resnet18");
  spec.base_width = 4;
  spec.input_size = 16;
  spec.classes = 5;
  return spec;
}

Tensor images(const Model& model, std::int64_t n, double phase) {
  Tensor t(model.input_shape(n), DType::f32);
  for (std::int64_t i = 0; i < t.count(); ++i)
    t.data<float>()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + phase) * 2.0);
  return t;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data<double>(), b.data<double>(), a.bytes()) == 0;
}

// Two different batches through one InferenceGraph give, each, the direct forward's logits bit for bit.
void expect_eager_equivalent(Backend& backend) {
  Model model = build_resnet(small_resnet());
  Stage stage(backend, model, 0, model.size(), 5);
  EXPECT_GT(stage.fold_batch_norms(), 0);
  constexpr std::int64_t batch = 3;
  InferenceGraph graph(stage, batch);
  EXPECT_FALSE(graph.captured()) << backend.name() << " cannot record";
  EXPECT_EQ(graph.input().shape(), stage.input_shape(batch));
  const PassInfo pass{Mode::eval, 0, 0, 0};
  Tensor previous;
  for (const double phase : {0.0, 1.3}) {
    const Tensor host_images = images(model, batch, phase);
    backend.copy(host_images, graph.input());
    const Tensor from_graph = download_f64(backend, graph.run());
    const Tensor direct = download_f64(backend, stage.forward(upload(backend, host_images), pass, nullptr));
    EXPECT_TRUE(bitwise_equal(from_graph, direct)) << backend.name() << ", phase " << phase;
    if (previous.count() > 0) {
      EXPECT_FALSE(bitwise_equal(previous, from_graph)) << "the second input gives other logits";
    }
    previous = from_graph.clone();
  }
}

}  // namespace

TEST(InferenceGraph, FastCpuRunsEagerlyAndMatchesTheDirectForward) {
  CpuBackend<float> backend(1);
  expect_eager_equivalent(backend);
}

TEST(InferenceGraph, ReferenceRunsEagerlyAndMatchesTheDirectForward) {
  ReferenceBackend backend;
  expect_eager_equivalent(backend);
}

TEST(InferenceGraph, ProfilingBackendNeverCaptures) {
  CpuBackend<float> inner(1);
  ProfilingBackend backend(inner);
  EXPECT_EQ(backend.capture([] {}), nullptr);
  expect_eager_equivalent(backend);
}

TEST(InferenceGraph, CpuBackendsDoNotRecordAndDoNotRunTheWork) {
  CpuBackend<float> backend(1);
  bool ran = false;
  EXPECT_EQ(backend.capture([&ran] { ran = true; }), nullptr);
  EXPECT_FALSE(ran) << "a backend that cannot record leaves running the work to the caller";
}

TEST(InferenceGraph, RefusesAnEmptyBatch) {
  CpuBackend<float> backend(1);
  Model model = build_resnet(small_resnet());
  Stage stage(backend, model, 0, model.size(), 5);
  EXPECT_THROW(InferenceGraph(stage, 0), InvalidArgument);
}

// evaluate and predict with --cuda-graph on (ForwardMode::recorded): on a backend that cannot record, every batch's
// predictions equal the eager ones, including a batch shortened by a bad sample (another size than the first batch,
// which the recording is made for).
TEST(InferenceGraph, PredictAllRecordedEqualsEager) {
  CpuBackend<float> backend(1);
  Model model = build_resnet(small_resnet());
  Stage stage(backend, model, 0, model.size(), 5);
  stage.fold_batch_norms();
  const Tensor all = images(model, 9, 0.4);
  const Tensor labels({9, 1, 1, 1}, DType::i32);
  const auto predictions = [&](ForwardMode mode) {
    MemoryBatchSource source(all.clone(), labels.clone(), 3, 0, 1, {4});
    return predict_all(stage, source, ViewMode::stack, {}, mode);
  };
  const Predictions eager = predictions(ForwardMode::eager), recorded = predictions(ForwardMode::recorded);
  EXPECT_EQ(eager.indices.size(), 8U) << "9 samples, one bad";
  EXPECT_EQ(recorded.indices, eager.indices);
  EXPECT_EQ(recorded.probs, eager.probs);
}
