// Finite-difference checks in fp64 (reference backend) of whole blocks and of a whole small ResNet:
// d(loss)/d(parameter) from backward() against central differences of the loss.
#include <gtest/gtest.h>

#include <cmath>

#include "core/model/train_step.hpp"
#include "kernels/cpu/reference_backend.hpp"

using namespace cbednet;

namespace {

struct Problem {
  ReferenceBackend backend;
  Model model;
  std::unique_ptr<Stage> stage;
  SoftmaxCrossEntropy loss;
  Tensor images, labels;

  Problem(ResNetSpec spec, std::int64_t batch, double smoothing, std::vector<double> weights)
      : model(build_resnet(spec)), loss(spec.classes, smoothing, std::move(weights)) {
    stage = std::make_unique<Stage>(backend, model, 0, model.size(), 11);
    images = Tensor(model.input_shape(batch), DType::f64);
    const RandomStream s(3, RngPurpose::test);
    for (std::int64_t i = 0; i < images.count(); ++i)
      images.data<double>()[i] = s.normal(static_cast<std::uint64_t>(i));
    labels = Tensor({batch, 1, 1, 1}, DType::i32);
    for (std::int64_t i = 0; i < batch; ++i)
      labels.data<std::int32_t>()[i] =
          static_cast<std::int32_t>(s.below(static_cast<std::uint64_t>(spec.classes), i, 9));
  }

  // Mean loss of the batch in training mode (batch statistics), as train_step computes it.
  double objective() {
    Stage::Context ctx;
    const Tensor logits = stage->forward(images.view(), {Mode::train, 5, 0, 0}, &ctx);
    const auto out = loss.forward(backend, logits, labels);
    double sum = 0;
    for (double l : out.losses.span<double>()) sum += l;
    return sum / static_cast<double>(images.shape().n);
  }

  void analytic_gradients() {
    stage->store().zero_grad();
    Stage::Context ctx;
    const Tensor logits = stage->forward(images.view(), {Mode::train, 5, 0, 0}, &ctx);
    const auto out = loss.forward(backend, logits, labels);
    stage->backward(loss.backward(backend, out, labels, images.shape().n), ctx);
  }
};

// Checks `samples` elements of every parameter tensor: ||fd - analytic|| / ||analytic|| < 1e-6 over them all.
void check_gradients(Problem& p, int samples_per_param) {
  p.analytic_gradients();
  double diff2 = 0, ref2 = 0;
  const double h = 1e-6;
  int checked = 0;
  for (auto& entry : p.stage->store().params()) {
    double* w = entry.master.data<double>();
    const double* g = entry.grad.data<double>();
    const std::int64_t n = entry.shape.count();
    for (int k = 0; k < samples_per_param; ++k) {
      const std::int64_t i = (k * 7919 + 13) % n;
      const double saved = w[i];
      w[i] = saved + h;
      const double up = p.objective();
      w[i] = saved - h;
      const double down = p.objective();
      w[i] = saved;
      const double fd = (up - down) / (2 * h);
      diff2 += (fd - g[i]) * (fd - g[i]);
      ref2 += g[i] * g[i];
      ++checked;
      EXPECT_NEAR(fd, g[i], 1e-6 * std::max(1.0, std::abs(g[i]))) << entry.name << "[" << i << "]";
    }
  }
  ASSERT_GT(ref2, 0.0);
  EXPECT_LT(std::sqrt(diff2 / ref2), 1e-6) << checked << " parameters checked";
}

ResNetSpec tiny(const std::string& arch) {
  ResNetSpec spec = resnet_spec(arch);
  spec.base_width = 4;
  spec.input_size = 8;
  spec.classes = 5;
  spec.stem = StemKind::small;
  return spec;
}

}  // namespace

TEST(Gradients, WholeBasicResNet) {
  Problem p(tiny("basic:1,1"), 4, 0.0, {});
  check_gradients(p, 6);
}

TEST(Gradients, WholeBottleneckResNetWithImagenetStem) {
  ResNetSpec spec = tiny("bottleneck:1,1");
  spec.stem = StemKind::imagenet;
  spec.input_size = 16;
  Problem p(spec, 3, 0.0, {});
  check_gradients(p, 5);
}

TEST(Gradients, LabelSmoothingClassWeightsAndDropout) {
  ResNetSpec spec = tiny("basic:1");
  spec.dropout = 0.3;
  Problem p(spec, 4, 0.1, {0.5, 1.0, 1.5, 2.0, 1.0});
  check_gradients(p, 6);
}

// Pre-activation units (core/model/preact_block.hpp): identity shortcuts (two units in a stage), projections on
// the pre-activated input, the bare small stem and the head's final BN+ReLU.
TEST(Gradients, WholePreActivationBasicResNet) {
  Problem p(tiny("preact-basic:2,1"), 4, 0.0, {});
  check_gradients(p, 6);
}

TEST(Gradients, WholePreActivationBottleneckResNetWithImagenetStem) {
  ResNetSpec spec = tiny("preact-bottleneck:1,2");
  spec.stem = StemKind::imagenet;
  spec.input_size = 16;
  spec.dropout = 0.2;
  Problem p(spec, 3, 0.1, {});
  check_gradients(p, 5);
}
