// CUDA graphs (kernels/cuda/cuda_graph.hpp, core/model/inference_graph.hpp): ResNet-18 inference with its batch
// norms folded, recorded once and replayed, in fp32 and bf16 on both cuDNN APIs: the forward is captured, replays of
// two different inputs give the eager forward's logits bit for bit, 20 replays allocate nothing, and a destroyed
// graph's memory goes back to the cache. Plus the capture contract: work that cannot be recorded (a synchronise)
// gives nullptr and leaves the backend usable; another exception propagates. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "core/model/inference_graph.hpp"
#include "core/model/model.hpp"
#include "core/model/stage.hpp"
#include "core/model/train_step.hpp"
#include "kernels/cuda/cuda_backend.hpp"

using namespace cbednet;

namespace {

std::unique_ptr<Backend> cuda_backend(const char* precision, const char* conv_api) {
  BackendOptions options{"cuda", precision, -1, 0};
  options.conv_api = conv_api;
  return make_cuda_backend(options);
}

Tensor images(const Model& model, std::int64_t n, std::uint64_t seed) {
  Tensor t(model.input_shape(n), DType::f32);
  const RandomStream s(seed, RngPurpose::test);
  for (std::int64_t i = 0; i < t.count(); ++i) t.data<float>()[i] = static_cast<float>(s.normal(i));
  return t;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data<double>(), b.data<double>(), a.bytes()) == 0;
}

void expect_replays_match_eager(const char* precision, const char* conv_api) {
  auto backend = cuda_backend(precision, conv_api);
  ResNetSpec spec = resnet_spec("resnet18");
  spec.input_size = 64;
  Model model = build_resnet(spec);
  Stage stage(*backend, model, 0, model.size(), 3);
  ASSERT_EQ(stage.fold_batch_norms(), 20);
  constexpr std::int64_t batch = 4;
  const PassInfo pass{Mode::eval, 0, 0, 0};
  const std::string what = std::string(precision) + ", " + conv_api;
  {
    InferenceGraph graph(stage, batch);
    ASSERT_TRUE(graph.captured()) << what;
    Tensor previous;
    for (const std::uint64_t seed : {5u, 9u}) {
      const Tensor host_images = images(model, batch, seed);
      backend->copy(host_images, graph.input());
      const Tensor replayed = download_f64(*backend, graph.run());
      const Tensor eager = download_f64(*backend, stage.forward(upload(*backend, host_images), pass, nullptr));
      EXPECT_TRUE(bitwise_equal(replayed, eager)) << what << ", seed " << seed;
      if (previous.count() > 0) {
        EXPECT_FALSE(bitwise_equal(previous, replayed)) << what << ": the second input gives other logits";
      }
      previous = download_f64(*backend, graph.run());  // a replay of the same input gives the same logits
      EXPECT_TRUE(bitwise_equal(previous, replayed)) << what;
    }
    backend->synchronize();
    const CudaMemoryStats before = memory_stats(*backend);
    for (int i = 0; i < 20; ++i) graph.run();
    backend->synchronize();
    const CudaMemoryStats after = memory_stats(*backend);
    EXPECT_EQ(after.current_bytes, before.current_bytes) << what;
    EXPECT_EQ(after.reserved_bytes, before.reserved_bytes) << what;
    EXPECT_EQ(after.cuda_malloc_calls, before.cuda_malloc_calls) << what;
  }
  // The first graph's private pool joined the general cache when it died: a second graph finds its blocks there.
  const CudaMemoryStats without_graph = memory_stats(*backend);
  {
    InferenceGraph again(stage, batch);
    EXPECT_TRUE(again.captured()) << what;
  }
  const CudaMemoryStats after_second = memory_stats(*backend);
  EXPECT_EQ(after_second.cuda_malloc_calls, without_graph.cuda_malloc_calls) << what;
  EXPECT_EQ(after_second.current_bytes, without_graph.current_bytes) << what;
}

}  // namespace

TEST(CudaGraphInference, Fp32LegacyReplaysMatchEagerBitwise) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  expect_replays_match_eager("fp32", "legacy");
}

TEST(CudaGraphInference, Fp32GraphApiReplaysMatchEagerBitwise) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  expect_replays_match_eager("fp32", "graph");
}

TEST(CudaGraphInference, Bf16LegacyReplaysMatchEagerBitwise) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  expect_replays_match_eager("bf16", "legacy");
}

TEST(CudaGraphInference, Bf16GraphApiReplaysMatchEagerBitwise) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  expect_replays_match_eager("bf16", "graph");
}

TEST(CudaGraphCapture, WorkThatCannotBeRecordedFallsBackAndLeavesTheBackendUsable) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  auto backend = cuda_backend("fp32", "legacy");
  Tensor t = backend->allocate({1, 4, 2, 2}, DType::f32, Layout::nhwc);
  EXPECT_EQ(backend->capture([&backend] { backend->synchronize(); }), nullptr);
  backend->fill(t, 2.5);
  const Tensor host = download_f64(*backend, t);
  EXPECT_EQ(host.data<double>()[0], 2.5);
  EXPECT_EQ(host.data<double>()[15], 2.5);
}

TEST(CudaGraphCapture, OtherExceptionsPropagateAndTheNextCaptureWorks) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  auto backend = cuda_backend("fp32", "legacy");
  Tensor t = backend->allocate({1, 4, 2, 2}, DType::f32, Layout::nhwc);
  EXPECT_THROW(backend->capture([] { throw_error<InvalidArgument>("not recordable on purpose"); }), InvalidArgument);
  auto work = backend->capture([&] { backend->scale(t, 2.0); });
  ASSERT_NE(work, nullptr);
  backend->fill(t, 1.5);
  work->replay();
  work->replay();
  const Tensor host = download_f64(*backend, t);
  EXPECT_EQ(host.data<double>()[7], 6.0) << "recorded, not executed: two replays double 1.5 twice";
}
