#include "app/training_run.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "app/evaluation.hpp"
#include "app/run_log.hpp"
#include "app/stop_signals.hpp"
#include "core/parallel/checkpoint_gather.hpp"
#include "core/parallel/hybrid_trainer.hpp"
#include "core/model/train_step.hpp"
#include "core/parallel/data_parallel.hpp"
#include "io/checkpoint/checkpoint.hpp"

namespace cbednet::app {

namespace fs = std::filesystem;

std::vector<double> class_weights(const std::vector<std::int16_t>& labels, int classes, ClassWeighting scheme,
                                  double beta) {
  if (scheme == ClassWeighting::none) return {};
  std::vector<double> count(static_cast<std::size_t>(classes), 0.0);
  for (const auto l : labels)
    if (l >= 1 && l <= classes) count[static_cast<std::size_t>(l - 1)] += 1;
  std::vector<double> w(count.size(), 1.0);
  for (std::size_t c = 0; c < count.size(); ++c) {
    if (count[c] == 0) continue;
    // inverse frequency 1/n, or the inverse effective number of samples (1 - beta) / (1 - beta^n) (Cui et al. 2019)
    w[c] = scheme == ClassWeighting::inverse ? 1.0 / count[c] : (1.0 - beta) / (1.0 - std::pow(beta, count[c]));
  }
  double weighted = 0, total = 0;
  for (std::size_t c = 0; c < count.size(); ++c) {
    weighted += w[c] * count[c];
    total += count[c];
  }
  if (weighted > 0)
    for (std::size_t c = 0; c < count.size(); ++c)
      if (count[c] > 0) w[c] *= total / weighted;
  return w;
}

namespace {

// [b,3,H,W] -> [b,1,H,W]: sample i keeps projection v drawn from (seed, epoch, global sample index).
Tensor random_views(const io::Batch& batch, std::uint64_t seed, std::uint64_t epoch) {
  const Shape s = batch.images.shape();
  Tensor out({s.n, 1, s.h, s.w}, DType::f32);
  const RandomStream stream(seed, RngPurpose::augment);
  const std::int64_t plane = s.h * s.w;
  for (std::int64_t i = 0; i < s.n; ++i) {
    const auto v = static_cast<std::int64_t>(
        stream.below(static_cast<std::uint64_t>(s.c), epoch, static_cast<std::uint64_t>(batch.indices[i])));
    std::copy_n(batch.images.data<float>() + (i * s.c + v) * plane, plane, out.data<float>() + i * plane);
  }
  return out;
}

// "0|5|9" -> "[0,5) [5,9)": the blocks of each stage.
std::string describe_cuts(const Partition& partition) {
  std::ostringstream out;
  for (std::size_t s = 0; s + 1 < partition.cuts.size(); ++s)
    out << (s ? " " : "") << "[" << partition.cuts[s] << "," << partition.cuts[s + 1] << ")";
  return out.str();
}

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

// Keeps the lines of a metrics file whose epoch (first field) is below `epoch` (a resumed run rewrites the rest).
void truncate_metrics(const fs::path& path, std::int64_t epoch, bool csv) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::ostringstream kept;
  std::string line;
  bool header = csv;
  while (std::getline(in, line)) {
    if (header) {
      kept << line << '\n';
      header = false;
      continue;
    }
    const auto digits = line.find_first_of("0123456789");
    if (digits != std::string::npos && std::stoll(line.substr(digits)) < epoch + 1) kept << line << '\n';
  }
  write_file_atomically(path, kept.str());
}

// What every rank needs to know about the data; only stage-0 ranks open it (world rank 0 tells the others).
struct DataFacts {
  Shape sample{};
  std::int64_t steps_per_epoch = 0;
  std::vector<std::int16_t> train_labels, validation_labels;
  bool has_validation = false;
  std::string description, validation_note;
};

void broadcast(DataFacts& facts, MPI_Comm world) {
  std::int64_t header[7] = {facts.sample.c, facts.sample.h, facts.sample.w, facts.steps_per_epoch,
                            static_cast<std::int64_t>(facts.train_labels.size()),
                            static_cast<std::int64_t>(facts.validation_labels.size()), facts.has_validation ? 1 : 0};
  check_mpi_call(MPI_Bcast(header, 7, MPI_INT64_T, 0, world), "MPI_Bcast (data description)");
  facts.sample = {1, header[0], header[1], header[2]};
  facts.steps_per_epoch = header[3];
  facts.train_labels.resize(static_cast<std::size_t>(header[4]));
  facts.validation_labels.resize(static_cast<std::size_t>(header[5]));
  facts.has_validation = header[6] != 0;
  check_mpi_call(MPI_Bcast(facts.train_labels.data(), static_cast<int>(header[4]), MPI_INT16_T, 0, world),
                 "MPI_Bcast (labels)");
  check_mpi_call(MPI_Bcast(facts.validation_labels.data(), static_cast<int>(header[5]), MPI_INT16_T, 0, world),
                 "MPI_Bcast (validation labels)");
}

// Validation through the pipeline: stage 0 reads and drives (one flag per forward pass, then a stop flag); the
// other stages follow. Returns stage 0's predictions (empty elsewhere).
Predictions pipeline_predictions(HybridTrainer& trainer, io::DistributedLoader* loader, ViewMode views, int classes) {
  const MPI_Comm pipe = trainer.grid().pipeline();
  auto flag = [&](int value) {
    check_mpi_call(MPI_Bcast(&value, 1, MPI_INT, 0, pipe), "MPI_Bcast (evaluation step)");
    return value;
  };
  if (!trainer.grid().first_stage()) {
    while (flag(0) != 0) trainer.predict_logits(nullptr);
    return {};
  }
  Predictions p = predict_all(*loader, views, classes, [&](const Tensor& images) {
    flag(1);
    return trainer.predict_logits(&images);
  });
  flag(0);
  return p;
}

}  // namespace

int run_training(const TrainConfig& cfg) {
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0;
  MPI_Comm_rank(world, &rank);

  // ---- everything is checked before anything is written ------------------------------------------------------
  require_same_on_all_ranks(cfg.resolved_ini, "the configuration", world);
  const Grid grid(world, cfg.pipeline_stages, cfg.replicas);  // throws naming --grid when P x D != ranks
  const int D = grid.replicas();
  CBEDNET_REQUIRE(cfg.batch >= D && cfg.batch % D == 0, InvalidArgument, "--batch ", cfg.batch,
                  " must be a positive multiple of the ", D, " data-parallel replicas of --grid ", grid.stages(), "x",
                  D);
  const std::int64_t share = cfg.batch / D;
  const std::int64_t micro = cfg.micro_batch > 0 ? cfg.micro_batch : share;
  CBEDNET_REQUIRE(share % micro == 0, InvalidArgument, "--micro-batch-size ", micro,
                  " does not divide a replica's share of the batch (", share, " = ", cfg.batch, " / ", D, ")");

  const fs::path run_dir(cfg.out), checkpoint_dir = run_dir / "checkpoints";
  CBEDNET_REQUIRE(cfg.resume || !fs::exists(run_dir / "config.ini"), InvalidArgument, "--out ", cfg.out,
                  ": holds a previous run (config.ini); add --resume to continue it, or choose another directory");
  std::optional<std::string> resume_from;
  std::string skipped_checkpoints;
  if (cfg.resume) {
    resume_from = io::latest_checkpoint(checkpoint_dir.string(), &skipped_checkpoints);
    CBEDNET_REQUIRE(resume_from.has_value(), InvalidArgument, "--resume: no usable checkpoint in ",
                    checkpoint_dir.string(), skipped_checkpoints.empty() ? "" : " (" + skipped_checkpoints + ")");
  }

  // ---- data: only the first pipeline stage reads (its D replicas share each global batch) -----------------------
  std::unique_ptr<io::DistributedLoader> train, validation;
  DataFacts facts;
  if (grid.first_stage()) {
    io::LoaderOptions lo;
    lo.global_batch = static_cast<std::size_t>(cfg.batch);
    lo.seed = cfg.seed;
    lo.shuffle = true;
    lo.drop_last = true;
    lo.skip_bad = cfg.skip_bad;
    lo.io_threads = cfg.io_threads;
    lo.split = cfg.train_split;
    lo.preprocess = cfg.preprocess;
    train = std::make_unique<io::DistributedLoader>(cfg.data, grid.replicas_comm(), lo);
    facts.sample = train->sample_shape();
    facts.steps_per_epoch = static_cast<std::int64_t>(train->steps_per_epoch());
    facts.train_labels = train->labels();
    facts.description = train->describe();
    if (cfg.val_split != "none") {
      try {
        const std::string split = cfg.val_split == "auto" ? "dev" : cfg.val_split;
        validation = std::make_unique<io::DistributedLoader>(
            cfg.data, grid.replicas_comm(), evaluation_loader_options(cfg.preprocess, split, 64, D, cfg.skip_bad));
        facts.validation_labels = validation->labels();
        facts.has_validation = true;
      } catch (const Error& e) {
        if (cfg.val_split != "auto") throw;
        facts.validation_note = std::string("no validation split (") + e.what() + "); validation skipped";
      }
    }
  }
  broadcast(facts, world);
  const Shape sample = facts.sample;
  CBEDNET_REQUIRE(sample.h == sample.w, InvalidArgument, "--data ", cfg.data, ": samples are ", sample.h, "x",
                  sample.w, "; the model needs square inputs");
  CBEDNET_REQUIRE(cfg.views == ViewMode::stack || sample.c > 1, InvalidArgument,
                  "--views random needs samples with several projections, but ", cfg.data, " has ", sample.c,
                  " channel(s)");
  const auto largest_label = *std::max_element(facts.train_labels.begin(), facts.train_labels.end());
  CBEDNET_REQUIRE(largest_label <= cfg.model.classes, InvalidArgument, "--classes ", cfg.model.classes, ": the data ",
                  cfg.data, " has space group ", largest_label, "; the model needs at least that many classes");

  // ---- model, this rank's pipeline stage, optimizer ------------------------------------------------------------
  ResNetSpec spec = cfg.model;
  spec.in_channels = cfg.views == ViewMode::random ? 1 : sample.c;
  spec.input_size = sample.h;
  Model model = build_resnet(spec);
  // --device cuda: the backend binds local rank modulo the visible devices (one GPU per rank on a node, and
  // also under srun --gpus-per-task=1 / jsrun -g1 where each rank sees exactly one).
  auto backend = make_backend(cfg.backend);
  HybridTrainer trainer(*backend, model, grid, cfg.seed, cfg.hybrid);
  Stage& stage = trainer.stage();
  SoftmaxCrossEntropy loss(spec.classes, cfg.label_smoothing,
                           class_weights(facts.train_labels, static_cast<int>(spec.classes), cfg.class_weighting,
                                         cfg.effective_beta));
  const std::int64_t steps_per_epoch = facts.steps_per_epoch;
  LrSchedule schedule = cfg.schedule;
  schedule.total_steps = cfg.epochs * steps_per_epoch;
  schedule.warmup_steps = std::llround(cfg.warmup_epochs * static_cast<double>(steps_per_epoch));
  for (double e : cfg.milestone_epochs) schedule.milestones.push_back(std::llround(e * static_cast<double>(steps_per_epoch)));
  schedule.validate();
  SgdOptimizer optimizer(cfg.sgd);

  io::TrainingState state;
  state.seed = cfg.seed;
  if (resume_from) {
    const auto [info, tensors] = io::load_checkpoint(*resume_from, spec);
    assign_tensors(stage.store(), tensors, *resume_from);  // this stage's tensors, by name
    CBEDNET_REQUIRE(info.state.seed == cfg.seed, InvalidArgument, "--resume: checkpoint ", *resume_from,
                    " was trained with --seed ", info.state.seed, ", not ", cfg.seed);
    state = info.state;
    optimizer.set_steps_taken(state.global_step);
  }
  // Dynamic loss scaling continues from the checkpoint's scale; a fixed scale or none is the configuration's.
  std::optional<DynamicLossScaler> scaler;
  if (cfg.loss_scaling == LossScaling::dynamic) {
    scaler.emplace(cfg.loss_scaler);
    if (resume_from) scaler->restore(state.loss_scale, state.loss_scale_good_steps);
  }
  // The scale of the next step, kept in the state so that checkpoints carry it.
  const auto record_loss_scale = [&] {
    state.loss_scale =
        scaler ? scaler->scale() : cfg.loss_scaling == LossScaling::fixed ? cfg.loss_scaler.initial : 1.0;
    state.loss_scale_good_steps = scaler ? scaler->good_steps() : 0;
  };
  record_loss_scale();

  // ---- the run directory ------------------------------------------------------------------------------------
  RunLog log(run_dir, rank == 0);
  // GPU backends report their peak and reserved device memory (rank 0's) when the run ends or stops.
  const auto report_device_memory = [&] {
    std::string peak, reserved;
    for (const auto& [key, value] : backend->device_facts()) {
      if (key == "peak_gib") peak = value;
      if (key == "reserved_gib") reserved = value;
    }
    if (!peak.empty()) log.line("device memory (rank 0): peak ", peak, " GiB, reserved ", reserved, " GiB");
  };
  if (rank == 0) {
    fs::create_directories(checkpoint_dir);
    write_file_atomically(run_dir / "config.ini", cfg.resolved_ini);
    if (resume_from) {
      truncate_metrics(run_dir / "metrics.csv", state.epoch, true);
      truncate_metrics(run_dir / "metrics.jsonl", state.epoch, false);
    }
    log.open();
  }
  log.line("cbednet train: ", facts.description, ", ", facts.train_labels.size(), " samples ", sample.str(), " -> ",
           model.spec().arch, " (", model.parameter_count(), " parameters, ", spec.in_channels, "x", spec.input_size,
           "x", spec.input_size, " input, views ", to_string(cfg.views), ")");
  log.line("  ", grid.stages() * D, " rank(s) as grid ", grid.stages(), "x", D, " (stage cuts ",
           describe_cuts(trainer.partition()), "), batch ", cfg.batch, " (", share, " per replica, micro-batch ",
           micro, "), ", steps_per_epoch, " steps per epoch, ", cfg.epochs, " epochs, backend ", backend->name(), " ",
           cfg.backend.precision);
  if (!facts.validation_note.empty()) log.line("  ", facts.validation_note);
  if (cfg.loss_scaling != LossScaling::none)
    log.line("  loss scaling: ", cfg.loss_scaling == LossScaling::dynamic ? "dynamic" : "fixed", ", scale ",
             state.loss_scale,
             cfg.loss_scaling == LossScaling::dynamic
                 ? ", doubling after " + std::to_string(cfg.loss_scaler.interval) + " finite steps, halving on overflow"
                 : std::string());
  if (resume_from) {
    if (!skipped_checkpoints.empty()) log.line("  ", skipped_checkpoints);
    log.line("  resumed from ", *resume_from, " at epoch ", state.epoch + 1, ", step ", state.step_in_epoch,
             " (global step ", state.global_step, ")");
  }

  const auto save = [&](const char* why) {
    io::CheckpointTensors tensors;
    if (grid.replica() == 0) tensors = gather_checkpoint_tensors(collect_tensors(stage.store()), grid);
    if (rank == 0) {
      const std::string path = io::checkpoint_path(checkpoint_dir.string(), state.global_step);
      io::save_checkpoint(path, spec, state, cfg.resolved_ini, tensors);
      io::prune_checkpoints(checkpoint_dir.string(), cfg.keep_checkpoints);
      log.line("  checkpoint ", path, " (", why, ")");
    }
    check_mpi_call(MPI_Barrier(world), "MPI_Barrier (checkpoint)");
  };

  const auto run_start = std::chrono::steady_clock::now();
  std::int64_t steps_this_run = 0, skipped_steps = 0, overflow_steps = 0;
  const StopSignals stop_signals;  // SIGTERM / SIGUSR1: checkpoint and exit at the end of the current step
  for (std::int64_t epoch = state.epoch; epoch < cfg.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    if (train) {
      train->start_epoch(static_cast<std::uint64_t>(epoch));
      for (std::int64_t skip = 0; skip < state.step_in_epoch; ++skip) train->next();  // resume inside an epoch
    }
    std::int64_t epoch_images = 0;
    while (state.step_in_epoch < steps_per_epoch) {
      std::optional<io::Batch> batch;
      Tensor images;
      if (train) {
        batch = train->next();
        CBEDNET_REQUIRE(batch.has_value(), Error, "the loader ended epoch ", epoch + 1, " after ", state.step_in_epoch,
                        " of ", steps_per_epoch, " steps");
        images = cfg.views == ViewMode::random ? random_views(*batch, cfg.seed, static_cast<std::uint64_t>(epoch))
                                               : batch->images.view();
      }
      const double lr = schedule.lr(state.global_step);
      const TrainStepOptions options{micro,    lr, cfg.bn_momentum, cfg.seed, static_cast<std::uint64_t>(state.global_step),
                                     state.loss_scale};
      const StepStats totals = trainer.step(loss, optimizer, train ? &images : nullptr, train ? &batch->labels : nullptr,
                                            cfg.batch, options);
      // Every rank's view of the stop signals, reduced, so that all ranks stop after the same step.
      int stop = stop_requested() ? 1 : 0;
      check_mpi_call(MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, world), "MPI_Allreduce (stop signal)");
      // An overflow under dynamic loss scaling is the scale's doing: the step is not applied and the scale halves.
      // Only at the minimum scale is a non-finite step left to --nonfinite.
      const bool overflow = scaler && scaler->update(totals.nonfinite) && totals.nonfinite;
      if (overflow) {
        log.line("  step ", state.global_step + 1, ": gradients overflowed at loss scale ", state.loss_scale,
                 "; step skipped, scale now ", scaler->scale());
        ++overflow_steps;
      } else if (totals.nonfinite) {
        const std::string layer = first_nonfinite_gradient(stage.store());
        CBEDNET_REQUIRE(cfg.nonfinite == NonFinitePolicy::skip, Error, "non-finite loss or gradients at global step ",
                        state.global_step + 1, " (epoch ", epoch + 1, ", step ", state.step_in_epoch + 1, ")",
                        layer.empty() ? "" : "; first non-finite gradient on this rank: " + layer,
                        "; the update was not applied (use --nonfinite skip to skip such steps)");
        log.line("  step ", state.global_step + 1, ": non-finite loss or gradients", layer.empty() ? "" : " (" + layer + ")",
                 "; step skipped (--nonfinite skip)");
        ++skipped_steps;
      }
      record_loss_scale();
      state.epoch_loss_sum += totals.loss_sum;
      state.epoch_correct += totals.correct;
      state.epoch_samples += totals.samples;
      epoch_images += totals.samples;
      ++state.global_step;
      ++state.step_in_epoch;
      ++steps_this_run;

      if (cfg.log_every > 0 && (state.step_in_epoch % cfg.log_every == 0 || state.step_in_epoch == steps_per_epoch)) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
        const double per_step = elapsed / static_cast<double>(steps_this_run);
        const std::int64_t remaining = cfg.epochs * steps_per_epoch - state.global_step;
        const double n = static_cast<double>(totals.samples);
        char text[256];
        std::snprintf(text, sizeof text,
                      "epoch %lld/%lld step %lld/%lld | %.1f img/s | loss %.4f | top-1 %.3f | lr %.5f | ETA %s",
                      static_cast<long long>(epoch + 1), static_cast<long long>(cfg.epochs),
                      static_cast<long long>(state.step_in_epoch), static_cast<long long>(steps_per_epoch),
                      static_cast<double>(cfg.batch) / per_step, totals.loss_sum / n,
                      static_cast<double>(totals.correct) / n, lr,
                      format_duration(per_step * static_cast<double>(remaining)).c_str());
        log.line(text);
      }
      if (cfg.checkpoint_every > 0 && state.global_step % cfg.checkpoint_every == 0 &&
          state.step_in_epoch < steps_per_epoch)
        save("periodic");
      if (cfg.max_steps > 0 && state.global_step >= cfg.max_steps) {
        save("--max-steps reached");
        report_device_memory();
        log.line("stopped at global step ", state.global_step, " (--max-steps); continue with --resume");
        return 0;
      }
      if (stop != 0) {
        save("signal");
        report_device_memory();
        log.line("stopped at global step ", state.global_step, " on ", stop != 0 && stop_requested() ? stop_signal_name() : "a signal",
                 "; continue with --resume (exit code ", exit_code_preempted, ")");
        return exit_code_preempted;
      }
    }
    if (train) train->next();  // the end of the epoch (drop_last): lets the loader finish it

    // ---- end of epoch: validation, metrics, checkpoint ---------------------------------------------------------
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    EpochRecord record{epoch + 1, state.global_step, state.epoch_loss_sum / static_cast<double>(state.epoch_samples),
                       static_cast<double>(state.epoch_correct) / static_cast<double>(state.epoch_samples),
                       schedule.lr(state.global_step - 1), seconds, static_cast<double>(epoch_images) / seconds, {}};
    if (facts.has_validation) {
      const Predictions p = pipeline_predictions(trainer, validation.get(), cfg.views, static_cast<int>(spec.classes));
      record.validation =
          evaluate_predictions(p, facts.validation_labels, static_cast<int>(spec.classes), world).compute();
    }
    log.epoch(record);
    state.epoch = epoch + 1;
    state.step_in_epoch = 0;
    state.epoch_loss_sum = 0;
    state.epoch_correct = 0;
    state.epoch_samples = 0;
    save("end of epoch");
  }
  if (skipped_steps > 0) log.line("skipped ", skipped_steps, " steps with non-finite loss or gradients");
  if (overflow_steps > 0)
    log.line("dynamic loss scaling: ", overflow_steps, " steps overflowed and were skipped; final scale ",
             state.loss_scale);
  report_device_memory();
  log.line("training finished: ", state.global_step, " steps; run directory ", fs::absolute(run_dir).string());
  return 0;
}

}  // namespace cbednet::app
