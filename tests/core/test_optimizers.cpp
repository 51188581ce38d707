// The optimizers against fp64 references written here from their published formulas (docs/training.md), on a small
// ResNet's ParamStore with synthetic gradients: AdamW, LARS, LAMB and SGD, weight decay and trust ratios only on
// conv and linear weights, clipping by the global norm, the moving average of the weights; option ranges; and the
// optional state's trip through collect_tensors / assign_tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/model/stage.hpp"
#include "core/model/train_step.hpp"
#include "core/optim/sgd.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"

using namespace cbednet;

namespace {

ResNetSpec small_spec() {
  ResNetSpec spec = resnet_spec("basic:1,1");
  spec.base_width = 4;
  spec.input_size = 8;
  spec.classes = 3;
  spec.stem = StemKind::small;
  return spec;
}

using Values = std::vector<double>;

// One parameter's reference state.
struct Reference {
  bool decayed;  // conv and linear weights: the published recipes' exclusions, written out independently
  Values w, m, v, ema;
};

Values download(Backend& backend, const Tensor& t) {
  const Tensor host = download_f64(backend, t);
  return {host.data<double>(), host.data<double>() + host.count()};
}

// Gradients of step `step` for every parameter: a deterministic pattern of mixed signs and scales, written into
// the store's gradient buffer; returned by name.
std::map<std::string, Values> set_gradients(Backend& backend, ParamStore& store, int step) {
  std::map<std::string, Values> out;
  const RandomStream stream(77 + static_cast<std::uint64_t>(step), RngPurpose::test);
  std::uint64_t k = 0;
  for (auto& p : store.params()) {
    Tensor host(p.shape, DType::f64);
    for (auto& g : host.span<double>()) g = 0.1 * stream.normal(k++);
    out[p.name].assign(host.data<double>(), host.data<double>() + host.count());
    backend.copy(host, p.grad);
  }
  return out;
}

double norm(const Values& x) {
  double s = 0;
  for (const double v : x) s += v * v;
  return std::sqrt(s);
}

struct Fixture {
  ReferenceBackend backend;
  Model model = build_resnet(small_spec());
  Stage stage{backend, model, 0, model.size(), 99};
  std::map<std::string, Reference> reference;

  Fixture() {
    for (auto& p : stage.store().params()) {
      const bool decayed = p.kind == ParamKind::conv_weight || p.kind == ParamKind::linear_weight;
      Reference r{decayed, download(backend, p.master), {}, {}, {}};
      r.m.assign(r.w.size(), 0.0);
      r.v.assign(r.w.size(), 0.0);
      r.ema = r.w;
      reference.emplace(p.name, std::move(r));
    }
  }

  // The global norm of grad_scale * g over every parameter.
  static double global_norm(const std::map<std::string, Values>& grads, double grad_scale) {
    double s = 0;
    for (const auto& [name, g] : grads)
      for (const double x : g) s += (grad_scale * x) * (grad_scale * x);
    return std::sqrt(s);
  }

  void expect_matches(const std::string& what, bool check_ema = false) {
    for (auto& p : stage.store().params()) {
      const Reference& r = reference.at(p.name);
      const Values w = download(backend, p.master);
      for (std::size_t i = 0; i < w.size(); ++i)
        ASSERT_NEAR(w[i], r.w[i], 1e-13 * (1 + std::abs(r.w[i]))) << what << " " << p.name << " element " << i;
      if (check_ema) {
        const Values e = download(backend, p.ema);
        for (std::size_t i = 0; i < e.size(); ++i)
          ASSERT_NEAR(e[i], r.ema[i], 1e-13 * (1 + std::abs(r.ema[i]))) << what << " ema " << p.name << " " << i;
      }
    }
  }
};

// Runs `steps` updates of `config` against the reference rule `rule(reference, g, t)` (g already scaled and
// clipped, t = 1, 2, ...).
template <typename Rule>
void check_rule(const OptimizerConfig& config, Rule rule, int steps = 3, double grad_scale = 0.5) {
  Fixture f;
  auto optimizer = make_optimizer(config);
  for (int t = 1; t <= steps; ++t) {
    const auto grads = set_gradients(f.backend, f.stage.store(), t);
    optimizer->step(f.stage.store(), 0.05, grad_scale);
    double scale = grad_scale;
    if (config.clip_grad_norm > 0) {
      const double total = Fixture::global_norm(grads, grad_scale);
      EXPECT_NEAR(optimizer->last_grad_norm(), total, 1e-12 * total);
      scale *= std::min(1.0, config.clip_grad_norm / (total + 1e-6));
    }
    for (auto& [name, r] : f.reference) {
      Values g = grads.at(name);
      for (auto& x : g) x *= scale;
      rule(r, g, t);
      if (config.ema_decay > 0)
        for (std::size_t i = 0; i < r.w.size(); ++i)
          r.ema[i] = config.ema_decay * r.ema[i] + (1 - config.ema_decay) * r.w[i];
    }
    f.expect_matches(to_string(config.kind) + " step " + std::to_string(t), config.ema_decay > 0);
  }
  EXPECT_EQ(optimizer->steps_taken(), steps);
}

OptimizerConfig config_of(OptimizerKind kind) {
  OptimizerConfig c;
  c.kind = kind;
  c.weight_decay = 0.01;
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.eps = 1e-6;
  c.trust_coefficient = 0.02;
  return c;
}

constexpr double lr = 0.05;

}  // namespace

TEST(Optimizers, AdamWMatchesItsFormula) {
  const OptimizerConfig c = config_of(OptimizerKind::adamw);
  check_rule(c, [&](Reference& r, const Values& g, int t) {
    const double c1 = 1 - std::pow(c.beta1, t), c2 = 1 - std::pow(c.beta2, t);
    const double wd = r.decayed ? c.weight_decay : 0.0;
    for (std::size_t i = 0; i < r.w.size(); ++i) {
      r.m[i] = c.beta1 * r.m[i] + (1 - c.beta1) * g[i];
      r.v[i] = c.beta2 * r.v[i] + (1 - c.beta2) * g[i] * g[i];
      r.w[i] = r.w[i] * (1 - lr * wd) - lr * (r.m[i] / c1) / (std::sqrt(r.v[i] / c2) + c.eps);
    }
  });
}

TEST(Optimizers, LarsMatchesItsFormulaAndExcludesBatchNormAndBias) {
  const OptimizerConfig c = config_of(OptimizerKind::lars);
  check_rule(c, [&](Reference& r, const Values& g, int) {
    double trust = 1, wd = 0;
    if (r.decayed) {
      wd = c.weight_decay;
      trust = c.trust_coefficient * norm(r.w) / (norm(g) + wd * norm(r.w));
    }
    for (std::size_t i = 0; i < r.w.size(); ++i) {
      r.m[i] = c.momentum * r.m[i] + lr * trust * (g[i] + wd * r.w[i]);
      r.w[i] -= r.m[i];
    }
  });
}

// LAMB's formula for one tensor, written out (Adam moments with bias correction, decoupled decay, trust ratio).
auto lamb_reference(const OptimizerConfig& c) {
  return [c](Reference& r, const Values& g, int t) {
    const double c1 = 1 - std::pow(c.beta1, t), c2 = 1 - std::pow(c.beta2, t);
    const double wd = r.decayed ? c.weight_decay : 0.0;
    Values u(r.w.size());
    for (std::size_t i = 0; i < r.w.size(); ++i) {
      r.m[i] = c.beta1 * r.m[i] + (1 - c.beta1) * g[i];
      r.v[i] = c.beta2 * r.v[i] + (1 - c.beta2) * g[i] * g[i];
      u[i] = (r.m[i] / c1) / (std::sqrt(r.v[i] / c2) + c.eps) + wd * r.w[i];
    }
    // BN gamma starts at 1 and beta at 0: a zero-norm beta keeps trust 1 even if it were adapted.
    const double trust = r.decayed && norm(r.w) > 0 ? norm(r.w) / norm(u) : 1.0;
    for (std::size_t i = 0; i < r.w.size(); ++i) r.w[i] -= lr * trust * u[i];
  };
}

TEST(Optimizers, LambMatchesItsFormulaAndExcludesBatchNormAndBias) {
  const OptimizerConfig c = config_of(OptimizerKind::lamb);
  check_rule(c, lamb_reference(c));
}

TEST(Optimizers, SgdWithClippingAndWeightAverage) {
  OptimizerConfig c = config_of(OptimizerKind::sgd);
  c.nesterov = true;
  c.clip_grad_norm = 0.05;  // far below the synthetic gradients' norm: every step is clipped
  c.ema_decay = 0.9;
  check_rule(c, [&](Reference& r, const Values& g, int) {
    const double wd = r.decayed ? c.weight_decay : 0.0;
    for (std::size_t i = 0; i < r.w.size(); ++i) {
      const double gi = g[i] + wd * r.w[i];
      r.m[i] = c.momentum * r.m[i] + gi;
      r.w[i] -= lr * (gi + c.momentum * r.m[i]);
    }
  });
}

TEST(Optimizers, LambWithClippingAndWeightAverage) {
  OptimizerConfig c = config_of(OptimizerKind::lamb);
  c.clip_grad_norm = 0.1;
  c.ema_decay = 0.5;
  check_rule(c, lamb_reference(c));
}

TEST(Optimizers, ClippingLeavesSmallGradientsAlone) {
  Fixture f;
  OptimizerConfig c = config_of(OptimizerKind::sgd);
  c.clip_grad_norm = 1e6;
  auto clipped = make_optimizer(c);
  auto plain = make_optimizer(config_of(OptimizerKind::sgd));
  Fixture g;
  set_gradients(f.backend, f.stage.store(), 1);
  set_gradients(g.backend, g.stage.store(), 1);
  clipped->step(f.stage.store(), lr);
  plain->step(g.stage.store(), lr);
  EXPECT_EQ(download(f.backend, f.stage.store().master()), download(g.backend, g.stage.store().master()));
  EXPECT_TRUE(std::isnan(plain->last_grad_norm()));
}

TEST(Optimizers, AdaptiveRulesRunOnTheFastCpuBackendInFp32) {
  // The host-side update converts to fp64 and back: the fp32 store follows the fp64 one to fp32 precision.
  for (const auto kind : {OptimizerKind::adamw, OptimizerKind::lars, OptimizerKind::lamb}) {
    CpuBackend<float> fast(0);
    Fixture ref;
    Model model = build_resnet(small_spec());
    Stage stage(fast, model, 0, model.size(), 99);
    auto a = make_optimizer(config_of(kind)), b = make_optimizer(config_of(kind));
    for (int t = 1; t <= 2; ++t) {
      set_gradients(ref.backend, ref.stage.store(), t);
      set_gradients(fast, stage.store(), t);
      a->step(ref.stage.store(), lr);
      b->step(stage.store(), lr);
    }
    const Values want = download(ref.backend, ref.stage.store().master());
    const Values got = download(fast, stage.store().master());
    ASSERT_EQ(want.size(), got.size());
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << to_string(kind) << " element " << i;
  }
}

TEST(Optimizers, OptionsOutOfRangeNameTheOption) {
  const auto message = [](auto change) {
    OptimizerConfig c;
    change(c);
    try {
      make_optimizer(c);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([](auto& c) { c.beta1 = 1.0; }).find("--beta1"), std::string::npos);
  EXPECT_NE(message([](auto& c) { c.beta2 = -0.1; }).find("--beta2"), std::string::npos);
  EXPECT_NE(message([](auto& c) { c.trust_coefficient = 0; }).find("--trust-coefficient"), std::string::npos);
  EXPECT_NE(message([](auto& c) { c.eps = 0; }).find("--eps"), std::string::npos);
  EXPECT_NE(message([](auto& c) { c.clip_grad_norm = -1; }).find("--clip-grad-norm"), std::string::npos);
  EXPECT_NE(message([](auto& c) { c.ema_decay = 1; }).find("--ema-decay"), std::string::npos);
  EXPECT_NE(message([](auto& c) { c.weight_decay = -1; }).find("--weight-decay"), std::string::npos);
  EXPECT_NE(message([](auto& c) { c.beta1 = std::nan(""); }).find("--beta1"), std::string::npos);
  EXPECT_NE(message([](auto& c) {
              c.kind = OptimizerKind::lamb;
              c.nesterov = true;
            }).find("--nesterov"),
            std::string::npos);
  EXPECT_THROW(parse_optimizer_kind("adam"), InvalidArgument);
  EXPECT_EQ(parse_optimizer_kind("lars"), OptimizerKind::lars);
}

TEST(Optimizers, StateTravelsThroughCollectAndAssign) {
  OptimizerConfig c = config_of(OptimizerKind::lamb);
  c.ema_decay = 0.9;
  Fixture a;
  auto optimizer = make_optimizer(c);
  set_gradients(a.backend, a.stage.store(), 1);
  optimizer->step(a.stage.store(), lr);
  const ModelTensors saved = collect_tensors(a.stage.store());
  ASSERT_EQ(saved.second_moment.size(), saved.parameters.size());
  ASSERT_EQ(saved.ema.size(), saved.parameters.size());

  Fixture b;
  make_optimizer(c)->prepare(b.stage.store());
  assign_tensors(b.stage.store(), saved, "memory");
  EXPECT_EQ(download(a.backend, a.stage.store().second_moment()), download(b.backend, b.stage.store().second_moment()));
  EXPECT_EQ(download(a.backend, a.stage.store().ema()), download(b.backend, b.stage.store().ema()));

  // State the store keeps but the tensors lack (an SGD checkpoint given to a LAMB run) is an error naming it.
  ModelTensors sgd_only = collect_tensors(a.stage.store());
  sgd_only.second_moment.clear();
  try {
    assign_tensors(b.stage.store(), sgd_only, "old.h5");
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("second_moment/"), std::string::npos) << e.what();
  }
}

TEST(Optimizers, EvaluationWithTheAverageSwapsTheWeightsAndBack) {
  OptimizerConfig c = config_of(OptimizerKind::adamw);
  c.ema_decay = 0.5;
  Fixture f;
  auto optimizer = make_optimizer(c);
  set_gradients(f.backend, f.stage.store(), 1);
  optimizer->step(f.stage.store(), lr);
  ParamStore& store = f.stage.store();
  const Values weights = download(f.backend, store.master()), average = download(f.backend, store.ema());
  ASSERT_NE(weights, average);
  {
    const AveragedWeights averaged(store);
    EXPECT_EQ(download(f.backend, store.master()), average);
  }
  EXPECT_EQ(download(f.backend, store.master()), weights);
  EXPECT_EQ(download(f.backend, store.ema()), average);
}
