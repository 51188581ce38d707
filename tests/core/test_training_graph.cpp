// TrainingGraph (core/model/training_graph.hpp) on the CPU: the CPU backends cannot record, so every step is eager
// and must give bit for bit the parameters, running statistics and loss statistics of train_step. A stand-in
// backend that "records" by keeping the step's work and re-running it on replay checks the control flow a capturing
// backend sees: eager first, then recorded and replayed, re-recorded when the learning rate changes, never recorded
// with dropout or gradient clipping. The CUDA graph itself is tests/gpu/training_graph_test.cpp (needs a GPU).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>

#include "core/model/training_graph.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "kernels/profiling_backend.hpp"
#include "tests/core/small_resnet.hpp"

using namespace cbednet;
using cbednet::test::small_batch;
using cbednet::test::small_resnet;

namespace {

// Records by keeping `work` and running it again on every replay (a CUDA graph replays the device work only; this
// stand-in also repeats the host side, which the checks below do not depend on). Counts the recordings.
class ReplayingBackend final : public ProfilingBackend {
 public:
  using ProfilingBackend::ProfilingBackend;
  std::unique_ptr<CapturedWork> capture(const std::function<void()>& work) override {
    ++captures;
    struct Kept final : CapturedWork {
      std::function<void()> work;
      void replay() override { work(); }
    };
    auto kept = std::make_unique<Kept>();
    kept->work = work;
    return kept;
  }
  int captures = 0;
};

Tensor host_copy(Backend& backend, Tensor& t) {
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
  Trained(Backend& backend, const ResNetSpec& spec, double clip = 0)
      : model(build_resnet(spec)),
        stage(backend, model, 0, model.size(), 7),
        loss(model.classes(), 0.1),
        optimizer({0.9, 5e-4, false}, clip) {}
};

// `steps` steps of a batch of 6 in micro-batches of 2 through train_step on `reference_backend` and through a
// TrainingGraph on `backend`; lr_at(step) gives each step's learning rate. Parameters, momentum and running
// statistics equal bit for bit after every step; the loss statistics too (to rounding in an fp32 parameter dtype).
void expect_matches_train_step(Backend& reference_backend, Backend& backend, const ResNetSpec& spec, int steps,
                               const std::function<double(int)>& lr_at, TrainingGraph** out_graph = nullptr,
                               std::unique_ptr<TrainingGraph>* keep = nullptr) {
  Trained eager(reference_backend, spec), graphed(backend, spec);
  const test::Batch batch = small_batch(eager.model, 6, 3);
  const Tensor device_images = upload(backend, batch.images), device_labels = upload_labels(backend, batch.labels);
  auto graph =
      std::make_unique<TrainingGraph>(graphed.stage, graphed.loss, graphed.optimizer, device_images, device_labels);
  for (int s = 0; s < steps; ++s) {
    const TrainStepOptions options{2, lr_at(s), 0.1, 11, static_cast<std::uint64_t>(s), 1.0};
    const StepStats want = train_step(eager.stage, eager.loss, eager.optimizer, batch.images, batch.labels, options);
    graph->run(options);
    const StepStats got = graph->stats();
    const double tol = backend.param_dtype() == DType::f64 ? 0.0 : 1e-5 * std::abs(want.loss_sum);
    EXPECT_NEAR(got.loss_sum, want.loss_sum, tol) << backend.name() << ", step " << s;
    EXPECT_EQ(got.correct, want.correct) << "step " << s;
    EXPECT_EQ(got.samples, 6);
    ParamStore &a = eager.stage.store(), &b = graphed.stage.store();
    EXPECT_TRUE(same_bits(host_copy(reference_backend, a.master()), host_copy(backend, b.master())))
        << "parameters after step " << s << " on " << backend.name();
    EXPECT_TRUE(same_bits(host_copy(reference_backend, a.momentum()), host_copy(backend, b.momentum())))
        << "momentum after step " << s;
    EXPECT_TRUE(same_bits(host_copy(reference_backend, a.buffer_storage()), host_copy(backend, b.buffer_storage())))
        << "running statistics after step " << s;
  }
  if (keep) *keep = std::move(graph);
  if (out_graph && keep) *out_graph = keep->get();
}

const auto constant_lr = [](int) { return 0.05; };

}  // namespace

TEST(TrainingGraph, ReferenceRunsEagerlyAndMatchesTrainStepBitwise) {
  ReferenceBackend reference, backend;
  std::unique_ptr<TrainingGraph> graph;
  expect_matches_train_step(reference, backend, small_resnet("resnet18", StemKind::imagenet), 4, constant_lr, nullptr,
                            &graph);
  EXPECT_EQ(graph->replays(), 0) << "the reference backend cannot record";
  EXPECT_FALSE(graph->replayed());
  EXPECT_TRUE(graph->eager_reason().empty()) << "plain SGD without dropout is recordable where the backend records";
}

TEST(TrainingGraph, FastCpuRunsEagerlyAndMatchesTrainStepBitwise) {
  CpuBackend<float> reference(1), backend(1);
  expect_matches_train_step(reference, backend, small_resnet("resnet18", StemKind::small), 3, constant_lr);
}

TEST(TrainingGraph, EagerStepsCountOnTheOptimizer) {
  ReferenceBackend backend;
  Trained t(backend, small_resnet("resnet18", StemKind::small));
  const test::Batch batch = small_batch(t.model, 4, 1);
  TrainingGraph graph(t.stage, t.loss, t.optimizer, upload(backend, batch.images),
                      upload_labels(backend, batch.labels));
  for (int s = 0; s < 3; ++s) graph.run({0, 0.1, 0.1, 1, static_cast<std::uint64_t>(s), 1.0});
  EXPECT_EQ(t.optimizer.steps_taken(), 3);
}

// A recording backend: step 0 eager, step 1 recorded and replayed, later steps replayed; a new learning rate drops
// the recording (that step eager) and records again on the next. Every step still matches train_step bit for bit.
TEST(TrainingGraph, RecordsOnTheSecondStepAndRecordsAgainWhenTheLearningRateChanges) {
  ReferenceBackend reference, inner;
  ReplayingBackend backend(inner);
  TrainingGraph* graph = nullptr;
  std::unique_ptr<TrainingGraph> keep;
  const auto lr_at = [](int s) { return s < 4 ? 0.05 : 0.02; };
  expect_matches_train_step(reference, backend, small_resnet("resnet18", StemKind::small), 7, lr_at, &graph, &keep);
  // Steps: 0 eager, 1 recorded + replayed, 2-3 replayed, 4 eager (new lr), 5 recorded + replayed, 6 replayed.
  EXPECT_EQ(backend.captures, 2);
  EXPECT_EQ(graph->replays(), 5);
  EXPECT_TRUE(graph->replayed());
}

TEST(TrainingGraph, DropoutIsNeverRecorded) {
  ReferenceBackend reference, inner;
  ReplayingBackend backend(inner);
  ResNetSpec spec = small_resnet("resnet18", StemKind::small);
  spec.dropout = 0.3;
  TrainingGraph* graph = nullptr;
  std::unique_ptr<TrainingGraph> keep;
  expect_matches_train_step(reference, backend, spec, 3, constant_lr, &graph, &keep);
  EXPECT_EQ(backend.captures, 0) << "dropout masks depend on the step";
  EXPECT_EQ(graph->replays(), 0);
  EXPECT_NE(graph->eager_reason().find("dropout"), std::string::npos) << graph->eager_reason();
}

TEST(TrainingGraph, GradientClippingAndOtherOptimizersAreNeverRecorded) {
  ReferenceBackend backend;
  Trained clipped(backend, small_resnet("resnet18", StemKind::small), 1.0);
  EXPECT_NE(training_graph_refusal(clipped.stage, clipped.optimizer).find("clipping"), std::string::npos);
  OptimizerConfig adamw;
  adamw.kind = OptimizerKind::adamw;
  const auto optimizer = make_optimizer(adamw);
  EXPECT_NE(training_graph_refusal(clipped.stage, *optimizer).find("adamw"), std::string::npos)
      << training_graph_refusal(clipped.stage, *optimizer);
}

TEST(TrainingGraph, RejectsLabelsOfAnotherBatch) {
  ReferenceBackend backend;
  Trained t(backend, small_resnet("resnet18", StemKind::small));
  const test::Batch batch = small_batch(t.model, 4, 1), other = small_batch(t.model, 3, 1);
  EXPECT_THROW(
      TrainingGraph(t.stage, t.loss, t.optimizer, upload(backend, batch.images), upload_labels(backend, other.labels)),
      ShapeError);
}
