// Hybrid P x D training under mpiexec (1, 2 and 4 ranks): every grid that fits the rank count, with 1F1B and
// GPipe, one bucket or many, gives the serial fp64 result (core/model/train_step.cpp, same micro-batch size)
// to 1e-12 relative: per-step losses, final parameters and batch-norm running statistics of every stage, on
// every rank. The same with the fused batch-norm path (bottleneck blocks). The same again with LAMB, clipping by the
// global gradient norm (a sum over every stage) and a moving average of the weights: the norm of every step and the
// averaged weights match the serial run too. Bad configurations fail on every rank with a clear message (no hang).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/parallel/data_parallel.hpp"
#include "core/parallel/hybrid_trainer.hpp"
#include "kernels/cpu/reference_backend.hpp"

using namespace cbednet;

namespace {

constexpr std::int64_t batch = 16, micro = 2;
constexpr int steps = 3;
constexpr std::uint64_t seed = 4321;

int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

ResNetSpec small_spec(const std::string& arch = "basic:1,1,1") {
  ResNetSpec spec = resnet_spec(arch);
  spec.base_width = 4;
  spec.input_size = 8;
  spec.classes = 5;
  spec.stem = StemKind::small;
  spec.dropout = 0.25;
  return spec;
}

struct Data {
  Tensor images, labels;
};

Data step_data(const Model& model, int step) {
  Data d{Tensor(model.input_shape(batch), DType::f64), Tensor({batch, 1, 1, 1}, DType::i32)};
  const RandomStream s(seed + static_cast<std::uint64_t>(step), RngPurpose::test);
  for (std::int64_t i = 0; i < d.images.count(); ++i)
    d.images.data<double>()[i] = s.normal(static_cast<std::uint64_t>(i));
  for (std::int64_t i = 0; i < batch; ++i)
    d.labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(s.below(5, static_cast<std::uint64_t>(i), 1));
  return d;
}

TrainStepOptions step_options(int step) { return {micro, 0.05, 0.1, seed, static_cast<std::uint64_t>(step)}; }
SgdOptimizer make_optimizer() { return SgdOptimizer({0.9, 1e-3, true}); }

// LAMB with a clipping threshold below the gradient norm of these steps, and a weight average.
OptimizerConfig lamb_config() {
  OptimizerConfig c;
  c.kind = OptimizerKind::lamb;
  c.weight_decay = 1e-2;
  c.clip_grad_norm = 0.5;
  c.ema_decay = 0.8;
  return c;
}
std::unique_ptr<Optimizer> make_lamb() { return cbednet::make_optimizer(lamb_config()); }

using Named = std::map<std::string, std::vector<double>>;

Named named_state(Backend& backend, ParamStore& store) {
  Named out;
  for (auto& p : store.params()) {
    const Tensor t = download_f64(backend, p.master);
    out[p.name].assign(t.data<double>(), t.data<double>() + t.count());
  }
  for (auto& b : store.buffers()) {
    const Tensor t = download_f64(backend, b.value);
    out[b.name].assign(t.data<double>(), t.data<double>() + t.count());
  }
  if (store.has_ema())
    for (auto& p : store.params()) {
      const Tensor t = download_f64(backend, p.ema);
      out["ema:" + p.name].assign(t.data<double>(), t.data<double>() + t.count());
    }
  return out;
}

struct Result {
  std::vector<double> losses;
  std::vector<std::int64_t> correct;
  std::vector<double> grad_norms;  // with clipping: the global norm each step saw
  Named state;
  Tensor logits;  // evaluation logits of the last step's images (serial: all; hybrid: this replica's share)
};

Result run_serial(Optimizer& opt, const std::string& arch = "basic:1,1,1", bool fused_batch_norm = false) {
  ReferenceBackend backend;
  Model model = build_resnet(small_spec(arch));
  Stage stage(backend, model, 0, model.size(), seed);
  stage.set_fused_batch_norm(fused_batch_norm);
  SoftmaxCrossEntropy loss(model.classes(), 0.1);
  Result r;
  for (int s = 0; s < steps; ++s) {
    const Data d = step_data(model, s);
    const auto st = train_step(stage, loss, opt, d.images, d.labels, step_options(s));
    r.losses.push_back(st.loss_sum);
    r.correct.push_back(st.correct);
    r.grad_norms.push_back(opt.last_grad_norm());
  }
  r.state = named_state(backend, stage.store());
  r.logits = predict_logits(stage, step_data(model, steps - 1).images, 3);
  return r;
}

const Result& serial() {
  static const Result result = [] {
    SgdOptimizer opt = make_optimizer();
    return run_serial(opt);
  }();
  return result;
}

const Result& serial_lamb() {
  static const Result result = [] { return run_serial(*make_lamb()); }();
  return result;
}

constexpr const char* preact_arch = "preact-bottleneck:1,1,1";
const Result& serial_preact() {
  static const Result result = [] {
    SgdOptimizer opt = make_optimizer();
    return run_serial(opt, preact_arch);
  }();
  return result;
}

// Bottleneck blocks (projection and identity shortcuts) through the fused batch-norm operations.
constexpr const char* fused_arch = "bottleneck:1,2";
const Result& serial_fused() {
  static const Result result = [] {
    SgdOptimizer opt = make_optimizer();
    return run_serial(opt, fused_arch, true);
  }();
  return result;
}

Result run_hybrid(int P, int D, HybridOptions options, bool lamb = false, const std::string& arch = "basic:1,1,1") {
  ReferenceBackend backend;
  Model model = build_resnet(small_spec(arch));
  Grid grid(MPI_COMM_WORLD, P, D);
  HybridTrainer trainer(backend, model, grid, seed, options);
  SoftmaxCrossEntropy loss(model.classes(), 0.1);
  SgdOptimizer sgd = make_optimizer();
  const std::unique_ptr<Optimizer> lamb_optimizer = make_lamb();
  Optimizer& opt = lamb ? *lamb_optimizer : sgd;
  const std::int64_t share = batch / D;
  Result r;
  for (int s = 0; s < steps; ++s) {
    const Data d = step_data(model, s);
    const Tensor images = d.images.slice_batch(grid.replica() * share, share);
    const Tensor labels = d.labels.slice_batch(grid.replica() * share, share);
    const bool first = grid.first_stage();
    const auto st =
        trainer.step(loss, opt, first ? &images : nullptr, first ? &labels : nullptr, batch, step_options(s));
    EXPECT_EQ(st.samples, batch);
    r.losses.push_back(st.loss_sum);
    r.correct.push_back(st.correct);
    r.grad_norms.push_back(opt.last_grad_norm());
  }
  r.state = named_state(backend, trainer.stage().store());
  const Data d = step_data(model, steps - 1);
  const Tensor images = d.images.slice_batch(grid.replica() * share, share);
  r.logits = trainer.predict_logits(grid.first_stage() ? &images : nullptr, 3);
  if (grid.first_stage()) {
    EXPECT_EQ(r.logits.shape(), (Shape{share, 5, 1, 1}));
  }
  return r;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (const double x : v) m = std::max(m, std::abs(x));
  return m;
}

void expect_matches_serial(const Result& got, int P, int D, const std::string& what, const Result& want = serial()) {
  SCOPED_TRACE(what);
  for (int s = 0; s < steps; ++s) {
    EXPECT_NEAR(got.losses[s], want.losses[s], 1e-12 * std::abs(want.losses[s])) << "step " << s;
    EXPECT_EQ(got.correct[s], want.correct[s]) << "step " << s;
    if (std::isnan(want.grad_norms[s])) {
      EXPECT_TRUE(std::isnan(got.grad_norms[s])) << "step " << s;
    } else {
      EXPECT_NEAR(got.grad_norms[s], want.grad_norms[s], 1e-12 * want.grad_norms[s]) << "step " << s;
    }
  }
  // This rank's stage: every parameter and running statistic it holds, by name, against the serial model.
  ASSERT_FALSE(got.state.empty());
  for (const auto& [name, values] : got.state) {
    const auto it = want.state.find(name);
    ASSERT_NE(it, want.state.end()) << name;
    ASSERT_EQ(values.size(), it->second.size()) << name;
    const double scale = std::max(max_abs(it->second), 1e-300);
    double err = 0;
    for (std::size_t i = 0; i < values.size(); ++i) err = std::max(err, std::abs(values[i] - it->second[i]));
    EXPECT_LE(err, 1e-12 * scale) << name << " (scale " << scale << ")";
  }
  // The stages of all P ranks of a pipeline together hold the whole model exactly once.
  int count = static_cast<int>(got.state.size());
  int total = 0;
  MPI_Allreduce(&count, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(static_cast<std::size_t>(total), want.state.size() * static_cast<std::size_t>(D));
  (void)P;
  if (!got.logits.empty()) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const std::int64_t share = batch / D, offset = (rank / P) * share * 5;
    for (std::int64_t i = 0; i < got.logits.count(); ++i) {
      const double w = want.logits.data<double>()[offset + i];
      EXPECT_NEAR(got.logits.data<double>()[i], w, 1e-12 * std::max(1.0, std::abs(w))) << "logit " << i;
    }
  }
}

std::vector<std::pair<int, int>> grids() {
  const int n = world_size();
  std::vector<std::pair<int, int>> out;
  for (const auto& g : std::vector<std::pair<int, int>>{{1, 1}, {1, 2}, {2, 1}, {2, 2}, {4, 1}, {1, 4}})
    if (g.first * g.second == n) out.push_back(g);
  return out;
}

}  // namespace

TEST(Hybrid, EveryGridMatchesSerialFp64) {
  for (const auto& [P, D] : grids())
    for (const auto schedule : {PipelineSchedule::one_f_one_b, PipelineSchedule::gpipe})
      for (const std::int64_t bucket : {std::int64_t{256}, std::int64_t{25} << 20}) {
        HybridOptions options;
        options.schedule = schedule;
        options.bucket_bytes = bucket;
        const Result r = run_hybrid(P, D, options);
        expect_matches_serial(r, P, D,
                              "grid " + std::to_string(P) + "x" + std::to_string(D) + " " + to_string(schedule) +
                                  " bucket " + std::to_string(bucket));
      }
}

TEST(Hybrid, EveryGridMatchesSerialFp64WithLambClippingAndWeightAverage) {
  // The clipping threshold is below every step's norm, so each step is clipped by the norm over all stages: a
  // stage that used only its own gradients' norm would differ from the serial run.
  for (const double norm : serial_lamb().grad_norms) EXPECT_GT(norm, lamb_config().clip_grad_norm);
  for (const auto& [P, D] : grids()) {
    HybridOptions options;
    options.bucket_bytes = 256;
    const Result r = run_hybrid(P, D, options, true);
    expect_matches_serial(r, P, D, "LAMB grid " + std::to_string(P) + "x" + std::to_string(D), serial_lamb());
  }
}

TEST(Hybrid, EveryGridMatchesSerialFp64ForAPreActivationNetworkWithAndWithoutRecomputation) {
  for (const auto& [P, D] : grids())
    for (const auto recompute : {Stage::Recompute::none, Stage::Recompute::blocks}) {
      HybridOptions options;
      options.bucket_bytes = 256;
      options.recompute = recompute;
      const Result r = run_hybrid(P, D, options, false, preact_arch);
      expect_matches_serial(
          r, P, D,
          "pre-activation grid " + std::to_string(P) + "x" + std::to_string(D) + " recompute " + to_string(recompute),
          serial_preact());
    }
}

TEST(Hybrid, EveryGridMatchesSerialFp64WithFusedBatchNorms) {
  for (const auto& [P, D] : grids()) {
    HybridOptions options;
    options.bucket_bytes = 256;
    options.fused_batch_norm = true;
    const Result r = run_hybrid(P, D, options, false, fused_arch);
    expect_matches_serial(r, P, D, "fused batch norms, grid " + std::to_string(P) + "x" + std::to_string(D),
                          serial_fused());
  }
}

TEST(Hybrid, BucketedReductionMakesManyBucketsAndEqualsBlockingDataParallel) {
  const int n = world_size();
  ReferenceBackend backend;
  Model model = build_resnet(small_spec());
  Grid grid(MPI_COMM_WORLD, 1, n);
  HybridOptions options;
  options.bucket_bytes = 256;
  HybridTrainer trainer(backend, model, grid, seed, options);
  EXPECT_GE(trainer.bucket_count(), model.size() - 1);  // small buckets: about one per block

  // The trainer's blocking data-parallel path (accumulate, allreduce_gradients, apply_update) on a second model.
  Model plain_model = build_resnet(small_spec());
  Stage plain(backend, plain_model, 0, plain_model.size(), seed);
  SoftmaxCrossEntropy loss(model.classes(), 0.1);
  SgdOptimizer opt_a = make_optimizer(), opt_b = make_optimizer();
  const std::int64_t share = batch / n;
  for (int s = 0; s < steps; ++s) {
    const Data d = step_data(model, s);
    const Tensor images = d.images.slice_batch(grid.replica() * share, share);
    const Tensor labels = d.labels.slice_batch(grid.replica() * share, share);
    const auto a = trainer.step(loss, opt_a, &images, &labels, batch, step_options(s));
    plain.store().zero_grad();
    const auto local =
        accumulate_gradients(plain, loss, images, labels, batch, grid.replica() * share, step_options(s));
    allreduce_gradients(plain.store(), MPI_COMM_WORLD);
    apply_update(plain, opt_b, batch / micro, step_options(s));
    std::vector<double> totals{local.loss_sum};
    allreduce_sum(totals, MPI_COMM_WORLD);
    EXPECT_NEAR(a.loss_sum, totals[0], 1e-12 * std::abs(totals[0]));
  }
  const Named x = named_state(backend, trainer.stage().store()), y = named_state(backend, plain.store());
  for (const auto& [name, values] : x)
    for (std::size_t i = 0; i < values.size(); ++i)
      ASSERT_NEAR(values[i], y.at(name)[i], 1e-12 * std::max(1.0, max_abs(values))) << name;
}

TEST(Hybrid, BalanceByTimeAgreesOnAllRanks) {
  const int n = world_size();
  ReferenceBackend backend;
  Model model = build_resnet(small_spec());
  Grid grid(MPI_COMM_WORLD, n, 1);
  HybridOptions options;
  options.balance = BalanceBy::time;
  options.balance_micro_batch = 2;
  HybridTrainer trainer(backend, model, grid, seed, options);
  std::vector<std::int64_t> cuts(trainer.partition().cuts.begin(), trainer.partition().cuts.end());
  std::vector<std::int64_t> root = cuts;
  MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_INT64_T, 0, MPI_COMM_WORLD);
  EXPECT_EQ(cuts, root);
  EXPECT_EQ(trainer.stage().first_block(), static_cast<std::size_t>(cuts[grid.stage()]));
}

namespace {
template <typename F>
void expect_invalid_everywhere(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error (expected one mentioning " << needle << ")";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Hybrid, BadConfigurationsFailOnEveryRank) {
  const int n = world_size();
  ReferenceBackend backend;
  expect_invalid_everywhere([&] { Grid(MPI_COMM_WORLD, n + 1, 1); }, "--grid");
  expect_invalid_everywhere([&] { Grid(MPI_COMM_WORLD, 1, 2 * n); }, "--grid");
  if (n == 4) {  // 4 stages, but "basic:1" has 3 blocks (stem, layer1.0, head)
    Model tiny = build_resnet(small_spec("basic:1"));
    Grid grid(MPI_COMM_WORLD, 4, 1);
    expect_invalid_everywhere([&] { HybridTrainer(backend, tiny, grid, seed); }, "blocks");
  }
  Model model = build_resnet(small_spec());
  {  // a different seed on one rank: a configuration mismatch, detected collectively
    Grid grid(MPI_COMM_WORLD, 1, n);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (n > 1)
      expect_invalid_everywhere([&] { HybridTrainer(backend, model, grid, seed + (rank == n - 1)); }, "differs");
  }
  Grid grid(MPI_COMM_WORLD, n >= 2 ? 2 : 1, n >= 2 ? n / 2 : 1);
  HybridTrainer trainer(backend, model, grid, seed);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer opt = make_optimizer();
  const Data d = step_data(model, 0);
  const std::int64_t D = grid.replicas(), share = batch / D;
  const Tensor images = d.images.slice_batch(0, share), labels = d.labels.slice_batch(0, share);
  const Tensor* im = grid.first_stage() ? &images : nullptr;
  const Tensor* lb = grid.first_stage() ? &labels : nullptr;
  TrainStepOptions bad = step_options(0);
  bad.micro_batch = 3;  // does not divide the share (16 / D)
  expect_invalid_everywhere([&] { trainer.step(loss, opt, im, lb, batch, bad); }, "--micro-batch-size");
  if (D > 1)
    expect_invalid_everywhere([&] { trainer.step(loss, opt, im, lb, D - 1, step_options(0)); }, "smaller than");
  // After refused steps the trainer still works (nothing was left half-sent).
  const auto st = trainer.step(loss, opt, im, lb, batch, step_options(0));
  EXPECT_EQ(st.samples, batch);
  EXPECT_TRUE(std::isfinite(st.loss_sum));
}
