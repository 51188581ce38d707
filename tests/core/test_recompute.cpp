// Activation recomputation (--recompute blocks, core/model/stage.hpp): training with it gives bit-identical losses,
// parameters, momentum and batch-norm running statistics to training without it, in fp64 and fp32, for post- and
// pre-activation networks with dropout, several micro-batches and the ImageNet stem; and the training forward keeps
// only block inputs.
#include <gtest/gtest.h>

#include "core/model/recompute_plan.hpp"
#include "core/model/train_step.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"

using namespace cbednet;

namespace {

ResNetSpec spec_of(const std::string& arch, StemKind stem) {
  ResNetSpec spec = resnet_spec(arch);
  spec.base_width = 4;
  spec.input_size = stem == StemKind::imagenet ? 16 : 8;
  spec.classes = 5;
  spec.stem = stem;
  spec.dropout = 0.3;
  return spec;
}

struct Run {
  std::vector<double> losses;
  ModelTensors state;
};

std::vector<double> values(const Tensor& t) {
  const Tensor d = t.to_dtype(DType::f64);
  return {d.data<double>(), d.data<double>() + d.count()};
}

// mode none or blocks; or, with `mask`, recomputing the blocks it flags.
Run train(Backend& backend, const ResNetSpec& spec, Stage::Recompute mode, std::vector<char> mask = {}) {
  Model model = build_resnet(spec);
  Stage stage(backend, model, 0, model.size(), 21);
  if (mask.empty())
    stage.set_recompute(mode);
  else
    stage.set_recompute_blocks(std::move(mask));
  SoftmaxCrossEntropy loss(model.classes(), 0.1);
  SgdOptimizer optimizer({0.9, 1e-3, true});
  Tensor images(model.input_shape(8), DType::f64), labels({8, 1, 1, 1}, DType::i32);
  const RandomStream s(5, RngPurpose::test);
  for (std::int64_t i = 0; i < images.count(); ++i) images.data<double>()[i] = s.normal(static_cast<std::uint64_t>(i));
  for (std::int64_t i = 0; i < 8; ++i) labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i % 5);
  if (backend.dtype() != DType::f64) images = images.to_dtype(backend.dtype());
  Run run;
  for (int step = 0; step < 3; ++step)
    run.losses.push_back(
        train_step(stage, loss, optimizer, images, labels, {2, 0.05, 0.1, 9, static_cast<std::uint64_t>(step)})
            .loss_sum);
  run.state = collect_tensors(stage.store());
  return run;
}

void expect_identical(const Run& a, const Run& b) {
  EXPECT_EQ(a.losses, b.losses);
  const auto a_groups = a.state.groups();
  const auto b_groups = b.state.groups();
  for (std::size_t g = 0; g < a_groups.size(); ++g) {
    ASSERT_EQ(a_groups[g]->size(), b_groups[g]->size());
    for (const auto& [name, t] : *a_groups[g]) EXPECT_EQ(values(t), values(b_groups[g]->at(name))) << name;
  }
}

}  // namespace

TEST(Recompute, BitIdenticalTrainingInFp64) {
  for (const auto& [arch, stem] : {std::pair{std::string("basic:1,1"), StemKind::small},
                                   std::pair{std::string("bottleneck:1,1"), StemKind::imagenet},
                                   std::pair{std::string("preact-bottleneck:2,1"), StemKind::small}}) {
    SCOPED_TRACE(arch);
    ReferenceBackend backend;
    const ResNetSpec spec = spec_of(arch, stem);
    expect_identical(train(backend, spec, Stage::Recompute::none), train(backend, spec, Stage::Recompute::blocks));
  }
}

TEST(Recompute, BitIdenticalTrainingOnTheFastCpuBackend) {
  CpuBackend<float> backend(0);
  const ResNetSpec spec = spec_of("preact-basic:1,1", StemKind::small);
  expect_identical(train(backend, spec, Stage::Recompute::none), train(backend, spec, Stage::Recompute::blocks));
}

TEST(Recompute, TheForwardKeepsOnlyBlockInputs) {
  ReferenceBackend backend;
  Model model = build_resnet(spec_of("basic:1,1", StemKind::small));
  Stage stage(backend, model, 0, model.size(), 21);
  stage.set_recompute(Stage::Recompute::blocks);
  const Tensor x(model.input_shape(2), DType::f64);
  Stage::Context ctx;
  stage.forward(x, {Mode::train, 1, 0, 0}, &ctx);
  ASSERT_EQ(ctx.blocks.size(), model.size());
  ASSERT_EQ(ctx.inputs.size(), model.size());
  for (std::size_t i = 0; i < model.size(); ++i) {
    EXPECT_EQ(ctx.blocks[i], nullptr);
    EXPECT_FALSE(ctx.inputs[i].empty());
  }
  EXPECT_THROW(parse_recompute("some"), InvalidArgument);
}

TEST(Recompute, SomeBlocksOnlyIsBitIdenticalToo) {
  ReferenceBackend backend;
  const ResNetSpec spec = spec_of("preact-basic:2,1", StemKind::small);  // stem, 3 units, head
  expect_identical(train(backend, spec, Stage::Recompute::none),
                   train(backend, spec, Stage::Recompute::none, {0, 1, 0, 1, 1}));
}

TEST(Recompute, AutoRecomputesTheFewestBlocksThatFitTheBudget) {
  const Model model = build_resnet(spec_of("basic:1,1", StemKind::small));
  const std::size_t n = model.size();
  const RecomputePlan all_kept = plan_recompute(model, 0, n, 4, 2, 4.0, 1e12);
  EXPECT_EQ(all_kept.recompute, std::vector<char>(n, 0));
  EXPECT_EQ(all_kept.kept_bytes, all_kept.none_bytes);
  double expected_none = 0;
  for (const auto& b : model.info()) expected_none += static_cast<double>(b.cost.saved_elements) * 4 * 2 * 4.0;
  EXPECT_EQ(all_kept.none_bytes, expected_none);

  // Just below what keeping everything needs: one block recomputes, the one that frees the most.
  const RecomputePlan one = plan_recompute(model, 0, n, 4, 2, 4.0, all_kept.none_bytes - 1);
  std::size_t recomputed = 0, best = 0;
  double best_saving = -1;
  for (std::size_t i = 0; i < n; ++i) {
    recomputed += one.recompute[i] != 0 ? 1 : 0;
    Shape in = model.info()[i].input;
    in.n = 1;
    const double saving = static_cast<double>(model.info()[i].cost.saved_elements - in.count());
    if (saving > best_saving) best_saving = saving, best = i;
  }
  EXPECT_EQ(recomputed, 1u);
  EXPECT_EQ(one.recompute[best], 1);
  EXPECT_LE(one.kept_bytes, all_kept.none_bytes - 1);

  // A budget below the block inputs themselves cannot be met: the message names the option.
  try {
    plan_recompute(model, 0, n, 4, 2, 4.0, 16);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("--activation-memory-gb"), std::string::npos) << e.what();
  }
}
