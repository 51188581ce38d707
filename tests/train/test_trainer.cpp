// The training loop and its callbacks, without the command line, under mpiexec (1 and 2 ranks, grid 1 x ranks):
// the Trainer over an in-memory source reproduces serial fp64 training step by step; each callback does its one
// thing at the right step (checkpoints, stop requests reduced over the ranks, the non-finite policy, loss
// scaling, progress and metrics, TensorBoard event files, validation); shares short of bad samples are filled on every
// replica.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/parallel/data_parallel.hpp"
#include "core/train/checkpoint_callback.hpp"
#include "core/train/loss_scale_callback.hpp"
#include "core/train/memory_batch_source.hpp"
#include "core/train/nonfinite_callback.hpp"
#include "core/train/progress_callback.hpp"
#include "core/train/stop_callback.hpp"
#include "core/train/tensorboard_callback.hpp"
#include "core/train/tensorboard_event.pb.h"
#include "core/train/trainer.hpp"
#include "core/train/validation_callback.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "tests/train/event_records.hpp"

using namespace cbednet;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t batch = 8, micro = 2, samples = 36;  // 4 steps per epoch (4 samples dropped)
constexpr std::uint64_t seed = 99;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

ResNetSpec small_spec() {
  ResNetSpec spec = resnet_spec("basic:1,1");
  spec.base_width = 4;
  spec.input_size = 8;
  spec.in_channels = 2;
  spec.classes = 4;
  spec.stem = StemKind::small;
  spec.dropout = 0.25;
  return spec;
}

struct Data {
  Tensor images, labels;
};

Data make_data(std::int64_t n, std::uint64_t key, std::int64_t nan_sample = -1) {
  const Model model = build_resnet(small_spec());
  Data d{Tensor(model.input_shape(n), DType::f64), Tensor({n, 1, 1, 1}, DType::i32)};
  const RandomStream s(key, RngPurpose::test);
  for (std::int64_t i = 0; i < d.images.count(); ++i)
    d.images.data<double>()[i] = s.normal(static_cast<std::uint64_t>(i));
  for (std::int64_t i = 0; i < n; ++i)
    d.labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(s.below(4, static_cast<std::uint64_t>(i), 1));
  if (nan_sample >= 0) d.images.slice_batch(nan_sample, 1).data<double>()[0] = std::numeric_limits<double>::quiet_NaN();
  return d;
}

LrSchedule schedule_for(std::int64_t epochs) {
  LrSchedule s;
  s.base_lr = 0.05;
  s.total_steps = epochs * (samples / batch);
  s.warmup_steps = 1;
  s.validate();
  return s;
}

TrainerConfig config_for(std::int64_t epochs) {
  TrainerConfig c;
  c.epochs = epochs;
  c.steps_per_epoch = samples / batch;
  c.seed = seed;
  c.schedule = schedule_for(epochs);
  return c;
}

// One rank's whole set-up: a 1 x ranks grid, its stage, loss, optimizer and this replica's share of the data.
struct Rig {
  ReferenceBackend backend;
  Model model = build_resnet(small_spec());
  Grid grid{MPI_COMM_WORLD, 1, world_size()};
  HybridTrainer steps{backend, model, grid, seed};
  SoftmaxCrossEntropy loss{4, 0.1};
  SgdOptimizer optimizer{SgdConfig{0.9, 1e-3, true}};
  MemoryBatchSource source;
  BatchSplit split = split_batch(batch, world_size(), micro);

  explicit Rig(const Data& data, std::set<std::int64_t> bad = {})
      : source(data.images.view(), data.labels.view(), batch, world_rank(), world_size(), std::move(bad)) {}
  Trainer trainer(TrainerConfig config, TrainingState state = {}) {
    state.seed = seed;
    return Trainer(steps, loss, optimizer, &source, split, std::move(config), state);
  }
};

std::vector<double> parameters(Backend& backend, ParamStore& store) {
  std::vector<double> out;
  for (auto& p : store.params()) {
    const Tensor t = download_f64(backend, p.master);
    out.insert(out.end(), t.data<double>(), t.data<double>() + t.count());
  }
  return out;
}

// Records what the loop did, hook by hook.
struct Recorder : TrainingCallback {
  std::vector<std::int64_t> steps, epochs;
  std::vector<StopReason> stops;
  int ends = 0;
  std::optional<ClassificationMetrics> validation;
  void after_step(Trainer&, StepReport& r) override { steps.push_back(r.step); }
  void on_epoch_end(Trainer&, EpochRecord& r) override {
    epochs.push_back(r.epoch);
    validation = r.validation;
  }
  void on_stop(Trainer&, StopReason reason) override { stops.push_back(reason); }
  void on_train_end(Trainer&) override { ++ends; }
};

fs::path temp_dir(const std::string& name) {
  // One directory per test, shared by the ranks (rank 0's pid, broadcast).
  int pid = static_cast<int>(::getpid());
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  const fs::path dir = fs::temp_directory_path() / ("cbednet-trainer-" + name + "-" + std::to_string(pid));
  if (world_rank() == 0) fs::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(Trainer, ReproducesSerialTrainingStepByStep) {
  const Data data = make_data(samples, 1);
  Rig rig(data);
  Trainer trainer = rig.trainer(config_for(2));
  Recorder recorder;
  trainer.add(recorder);
  EXPECT_EQ(trainer.run(), StopReason::finished);
  EXPECT_EQ(trainer.state().global_step, 8);
  EXPECT_EQ(trainer.state().epoch, 2);
  EXPECT_EQ(trainer.state().step_in_epoch, 0);
  EXPECT_EQ(recorder.steps, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(recorder.epochs, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(recorder.ends, 1);

  // The same 8 steps on one whole model on this rank: global batch t = samples [8t, 8t+8) of every epoch.
  ReferenceBackend backend;
  Model model = build_resnet(small_spec());
  Stage stage(backend, model, 0, model.size(), seed);
  SoftmaxCrossEntropy loss(4, 0.1);
  SgdOptimizer optimizer(SgdConfig{0.9, 1e-3, true});
  const LrSchedule schedule = schedule_for(2);
  for (std::int64_t step = 0; step < 8; ++step) {
    const std::int64_t first = (step % 4) * batch;
    train_step(stage, loss, optimizer, data.images.slice_batch(first, batch), data.labels.slice_batch(first, batch),
               {micro, schedule.lr(step), 0.1, seed, static_cast<std::uint64_t>(step)});
  }
  const auto expect = parameters(backend, stage.store());
  const auto got = parameters(rig.backend, rig.steps.stage().store());
  ASSERT_EQ(got.size(), expect.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - expect[i]) / std::max(1e-30, std::abs(expect[i])));
  EXPECT_LT(worst, 1e-12);
  if (world_size() == 1) {
    EXPECT_EQ(got, expect);  // one rank: the same operations in the same order
  }
}

TEST(Trainer, ResumingInsideAnEpochGivesTheSameParameters) {
  const Data data = make_data(samples, 2);
  Rig whole(data);
  Trainer straight = whole.trainer(config_for(2));
  straight.run();

  Rig first(data), second(data);
  TrainerConfig stop_early = config_for(2);
  stop_early.max_steps = 6;
  Trainer part = first.trainer(stop_early);
  EXPECT_EQ(part.run(), StopReason::max_steps);
  EXPECT_EQ(part.state().epoch, 1);
  EXPECT_EQ(part.state().step_in_epoch, 2);
  // Carry the parameters and optimizer state over as a checkpoint would (flat buffers), then continue.
  ParamStore& from = first.steps.stage().store();
  ParamStore& to = second.steps.stage().store();
  second.backend.copy(from.master(), to.master());
  second.backend.copy(from.momentum(), to.momentum());
  for (std::size_t i = 0; i < from.buffers().size(); ++i)
    second.backend.copy(from.buffers()[i].value, to.buffers()[i].value);
  to.refresh_compute_weights();
  second.optimizer.set_steps_taken(part.state().global_step);
  Trainer rest = second.trainer(config_for(2), part.state());
  EXPECT_EQ(rest.run(), StopReason::finished);
  EXPECT_EQ(rest.state().global_step, 8);
  EXPECT_EQ(parameters(second.backend, to), parameters(whole.backend, whole.steps.stage().store()));
}

TEST(CheckpointCallback, WritesPeriodicallyAtEpochEndsAndOnStop) {
  const Data data = make_data(samples, 3);
  Rig rig(data);
  RunLog log({}, false);
  std::vector<std::int64_t> written;
  CheckpointCallback checkpoints(
      3,
      [&](const TrainingState& s) {
        written.push_back(s.global_step);
        return world_rank() == 0 ? "ckpt-" + std::to_string(s.global_step) : std::string();
      },
      log, MPI_COMM_WORLD);
  Trainer trainer = rig.trainer(config_for(2));
  trainer.add(checkpoints);
  trainer.run();
  // every 3 steps, but not at an epoch's end (step 4, 8: end-of-epoch checkpoints instead)
  EXPECT_EQ(written, (std::vector<std::int64_t>{3, 4, 6, 8}));

  Rig again(data);
  written.clear();
  TrainerConfig config = config_for(2);
  config.max_steps = 5;
  Trainer stopped = again.trainer(config);
  stopped.add(checkpoints);
  EXPECT_EQ(stopped.run(), StopReason::max_steps);
  EXPECT_EQ(written, (std::vector<std::int64_t>{3, 4, 5}));
}

TEST(StopRequestCallback, OneRanksRequestStopsEveryRankAfterTheSameStep) {
  const Data data = make_data(samples, 4);
  Rig rig(data);
  const int last = world_size() - 1;
  int calls = 0;
  StopRequestCallback stop([&] { return world_rank() == last && ++calls == 3; }, MPI_COMM_WORLD);
  Recorder recorder;
  Trainer trainer = rig.trainer(config_for(2));
  trainer.add(stop);
  trainer.add(recorder);
  EXPECT_EQ(trainer.run(), StopReason::signal);
  EXPECT_EQ(trainer.state().global_step, 3);
  EXPECT_EQ(recorder.stops, std::vector<StopReason>{StopReason::signal});
  EXPECT_EQ(recorder.ends, 0);
}

TEST(NonFiniteCallback, StopNamesTheStepAndSkipGoesOn) {
  const Data data = make_data(samples, 5, /*nan_sample=*/9);  // global step 2 of each epoch
  RunLog log({}, false);
  {
    Rig rig(data);
    NonFiniteCallback policy(NonFinitePolicy::stop, log);
    Trainer trainer = rig.trainer(config_for(1));
    trainer.add(policy);
    try {
      trainer.run();
      ADD_FAILURE() << "a non-finite step did not stop the run";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("non-finite loss or gradients at global step 2 (epoch 1, step 2)"),
                std::string::npos)
          << e.what();
    }
  }
  Rig rig(data);
  NonFiniteCallback policy(NonFinitePolicy::skip, log);
  Trainer trainer = rig.trainer(config_for(2));
  trainer.add(policy);
  EXPECT_EQ(trainer.run(), StopReason::finished);
  EXPECT_EQ(policy.skipped_steps(), 2);
  for (const double p : parameters(rig.backend, rig.steps.stage().store())) ASSERT_TRUE(std::isfinite(p));
}

TEST(LossScaleCallback, AnOverflowHalvesTheScaleAndIsNotTheNonFinitePolicys) {
  const Data data = make_data(samples, 6, /*nan_sample=*/9);
  Rig rig(data);
  RunLog log({}, false);
  LossScalerOptions options;
  options.initial = 1024;
  options.interval = 2;
  LossScaleCallback scaling(LossScaling::dynamic, options, false, log);
  NonFiniteCallback policy(NonFinitePolicy::stop, log);  // would throw if the overflow reached it
  struct ScaleLog : TrainingCallback {
    std::vector<double> used;
    void after_step(Trainer&, StepReport& r) override { used.push_back(r.loss_scale); }
  } scale_log;
  Trainer trainer = rig.trainer(config_for(1));
  trainer.add(scaling);
  trainer.add(policy);
  trainer.add(scale_log);
  EXPECT_EQ(trainer.run(), StopReason::finished);
  // 1024 (finite), 1024 (overflow: halve), 512, 512 (two finite: double)
  EXPECT_EQ(scale_log.used, (std::vector<double>{1024, 1024, 512, 512}));
  EXPECT_EQ(trainer.state().loss_scale, 1024);
  EXPECT_EQ(trainer.state().loss_scale_good_steps, 0);
}

TEST(ProgressCallback, ProgressLinesAndOneMetricsRecordPerEpoch) {
  const fs::path dir = temp_dir("progress");
  {
    const Data data = make_data(samples, 7);
    Rig rig(data);
    RunLog log(dir, world_rank() == 0);
    if (world_rank() == 0) log.open();
    ProgressCallback progress(3, log);
    Trainer trainer = rig.trainer(config_for(2));
    trainer.add(progress);
    trainer.run();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string text = read_text(dir / "train.log");
  for (const char* line : {"epoch 1/2 step 3/4 |", "epoch 1/2 step 4/4 |", "epoch 2/2 step 3/4 |",
                           "epoch 2/2 step 4/4 |", "epoch 1 done in", "epoch 2 done in"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  EXPECT_EQ(text.find("step 1/4 |"), std::string::npos);
  const std::string csv = read_text(dir / "metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;  // header + 2 epochs
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) fs::remove_all(dir);
}

TEST(TensorBoardCallback, StepsAtTheProgressCadenceAndOneRecordPerEpoch) {
  const fs::path dir = temp_dir("tensorboard");
  struct EpochLog : TrainingCallback {
    std::vector<EpochRecord> records;
    void on_epoch_end(Trainer&, EpochRecord& r) override { records.push_back(r); }
  } epochs;
  fs::path event_file;
  {
    const Data data = make_data(samples, 7);
    Rig rig(data);
    std::optional<TensorBoardCallback> tensorboard;  // world rank 0 only, as the app adds it
    if (world_rank() == 0) tensorboard.emplace(3, dir / "tb");
    Trainer trainer = rig.trainer(config_for(2));
    if (tensorboard) trainer.add(*tensorboard);
    trainer.add(epochs);
    trainer.run();
    if (tensorboard) event_file = tensorboard->event_file();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) {
    EXPECT_EQ(std::distance(fs::directory_iterator(dir / "tb"), fs::directory_iterator()), 1);
    std::vector<std::int64_t> step_records, epoch_records;
    std::size_t epoch = 0;
    for (const std::string& record : test::read_records(test::file_bytes(event_file))) {
      tensorboard::Event event;
      ASSERT_TRUE(event.ParseFromString(record));
      if (!event.has_summary()) continue;
      const auto& values = event.summary().value();
      ASSERT_FALSE(values.empty());
      if (values[0].tag() == "train/loss") {
        step_records.push_back(event.step());
        EXPECT_EQ(values.size(), 5);
        continue;
      }
      epoch_records.push_back(event.step());
      ASSERT_LT(epoch, epochs.records.size());
      const EpochRecord& r = epochs.records[epoch++];
      ASSERT_EQ(values.size(), 4);  // no validation here
      EXPECT_EQ(values[0].tag(), "epoch/train_loss");
      EXPECT_EQ(values[0].simple_value(), static_cast<float>(r.train_loss));
      EXPECT_EQ(values[1].simple_value(), static_cast<float>(r.train_top1));
      EXPECT_EQ(values[2].simple_value(), static_cast<float>(r.lr));
      EXPECT_EQ(values[3].tag(), "epoch/images_per_s");
    }
    EXPECT_EQ(step_records, (std::vector<std::int64_t>{3, 4, 7, 8}));  // every 3rd step of an epoch and its last
    EXPECT_EQ(epoch_records, (std::vector<std::int64_t>{4, 8}));
    fs::remove_all(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(ValidationCallback, EveryValidationSampleIsScoredOnce) {
  const Data data = make_data(samples, 8);
  const Data held_out = make_data(12, 9);
  Rig rig(data);
  // Evaluation shares: 12 samples in batches of 4 over the replicas.
  MemoryBatchSource validation_source(held_out.images.view(), held_out.labels.view(), 4, world_rank(),
                                      world_size() > 1 ? 2 : 1);
  std::vector<std::int16_t> labels;
  for (std::int64_t i = 0; i < 12; ++i)
    labels.push_back(static_cast<std::int16_t>(held_out.labels.data<std::int32_t>()[i] + 1));
  ValidationCallback validation(&validation_source, labels, ViewMode::stack, MetricsAccumulator(4), MPI_COMM_WORLD);
  Recorder recorder;
  Trainer trainer = rig.trainer(config_for(1));
  trainer.add(validation);
  trainer.add(recorder);
  trainer.run();
  ASSERT_TRUE(recorder.validation.has_value());
  EXPECT_EQ(recorder.validation->samples, 12);
  EXPECT_GE(recorder.validation->top1, 0.0);
  EXPECT_LE(recorder.validation->top1, 1.0);
}

TEST(Trainer, SharesShortOfBadSamplesAreFilledOnEveryReplica) {
  const Data data = make_data(samples, 10);
  // Sample 5 (step 1) and sample 14 (step 2) are bad: with 2 ranks the first is replica 1's, the second replica 1's.
  Rig rig(data, {5, 14});
  Trainer trainer = rig.trainer(config_for(1));
  EXPECT_EQ(trainer.run(), StopReason::finished);
  std::vector<std::int64_t> repeated{trainer.repeated_samples()};
  allreduce_sum(repeated, MPI_COMM_WORLD);
  EXPECT_EQ(repeated[0], 2);
  for (const double p : parameters(rig.backend, rig.steps.stage().store())) ASSERT_TRUE(std::isfinite(p));
}
