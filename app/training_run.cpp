#include "app/training_run.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "app/init_from.hpp"
#include "app/stop_signals.hpp"
#include "core/model/recompute_plan.hpp"
#include "core/parallel/checkpoint_gather.hpp"
#include "core/parallel/data_parallel.hpp"
#include "core/train/checkpoint_callback.hpp"
#include "core/train/progress_callback.hpp"
#include "core/train/stop_callback.hpp"
#include "core/train/tensorboard_callback.hpp"
#include "core/train/trainer.hpp"
#include "core/train/validation_callback.hpp"
#include "io/checkpoint/checkpoint.hpp"

namespace cbednet::app {

namespace fs = std::filesystem;

namespace {

// "0|5|9" -> "[0,5) [5,9)": the blocks of each stage.
std::string describe_cuts(const Partition& partition) {
  std::ostringstream out;
  for (std::size_t s = 0; s + 1 < partition.cuts.size(); ++s)
    out << (s ? " " : "") << "[" << partition.cuts[s] << "," << partition.cuts[s + 1] << ")";
  return out.str();
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
  std::int64_t header[7] = {facts.sample.c,
                            facts.sample.h,
                            facts.sample.w,
                            facts.steps_per_epoch,
                            static_cast<std::int64_t>(facts.train_labels.size()),
                            static_cast<std::int64_t>(facts.validation_labels.size()),
                            facts.has_validation ? 1 : 0};
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

// The data of a run: only the first pipeline stage reads (its D replicas share each global batch); world rank 0
// tells every rank what it needs to know.
struct RunData {
  std::unique_ptr<io::DistributedLoader> train, validation;
  DataFacts facts;
};

RunData open_data(const TrainConfig& cfg, const Grid& grid) {
  RunData d;
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
    lo.augment = cfg.augment;
    lo.shuffle_group_files = static_cast<std::size_t>(cfg.shuffle_group_files);
    d.train = std::make_unique<io::DistributedLoader>(cfg.data, grid.replicas_comm(), lo);
    d.facts.sample = d.train->sample_shape();
    d.facts.steps_per_epoch = static_cast<std::int64_t>(d.train->steps_per_epoch());
    d.facts.train_labels = d.train->labels();
    d.facts.description = d.train->describe();
    if (cfg.val_split != "none") {
      try {
        const std::string split = cfg.val_split == "auto" ? "dev" : cfg.val_split;
        d.validation = std::make_unique<io::DistributedLoader>(
            cfg.data, grid.replicas_comm(),
            evaluation_loader_options(cfg.preprocess, split, 64, grid.replicas(), cfg.skip_bad));
        d.facts.validation_labels = d.validation->labels();
        d.facts.has_validation = true;
      } catch (const Error& e) {
        if (cfg.val_split != "auto") throw;
        d.facts.validation_note = std::string("no validation split (") + e.what() + "); validation skipped";
      }
    }
  }
  broadcast(d.facts, grid.world());
  const Shape sample = d.facts.sample;
  CBEDNET_REQUIRE(sample.h == sample.w, InvalidArgument, "--data ", cfg.data, ": samples are ", sample.h, "x", sample.w,
                  "; the model needs square inputs");
  CBEDNET_REQUIRE(cfg.views == ViewMode::stack || sample.c > 1, InvalidArgument,
                  "--views random needs samples with several projections, but ", cfg.data, " has ", sample.c,
                  " channel(s)");
  const auto largest_label = *std::max_element(d.facts.train_labels.begin(), d.facts.train_labels.end());
  CBEDNET_REQUIRE(largest_label <= cfg.model.classes, InvalidArgument, "--classes ", cfg.model.classes, ": the data ",
                  cfg.data, " has space group ", largest_label, "; the model needs at least that many classes");
  return d;
}

// The newest usable checkpoint of --out with --resume (skipped: why newer ones were passed over).
std::optional<std::string> resume_checkpoint(const TrainConfig& cfg, const fs::path& checkpoint_dir,
                                             std::string& skipped) {
  const fs::path run_dir(cfg.out);
  CBEDNET_REQUIRE(cfg.resume || !fs::exists(run_dir / "config.ini"), InvalidArgument, "--out ", cfg.out,
                  ": holds a previous run (config.ini); add --resume to continue it, or choose another directory");
  if (!cfg.resume) return std::nullopt;
  auto path = io::latest_checkpoint(checkpoint_dir.string(), &skipped);
  CBEDNET_REQUIRE(path.has_value(), InvalidArgument, "--resume: no usable checkpoint in ", checkpoint_dir.string(),
                  skipped.empty() ? "" : " (" + skipped + ")");
  return path;
}

LrSchedule resolved_schedule(const TrainConfig& cfg, std::int64_t steps_per_epoch) {
  LrSchedule schedule = cfg.schedule;
  schedule.total_steps = cfg.epochs * steps_per_epoch;
  schedule.warmup_steps = std::llround(cfg.warmup_epochs * static_cast<double>(steps_per_epoch));
  for (double e : cfg.milestone_epochs)
    schedule.milestones.push_back(std::llround(e * static_cast<double>(steps_per_epoch)));
  schedule.validate();
  return schedule;
}

// Checkpoints of this run: the first replica of every stage sends its tensors to world rank 0, which writes them
// (temporary file, then rename) and prunes the oldest beyond --keep-checkpoints.
CheckpointWriter checkpoint_writer(const TrainConfig& cfg, const ResNetSpec& spec, Stage& stage, const Grid& grid,
                                   const fs::path& checkpoint_dir) {
  return [&cfg, spec, &stage, &grid, checkpoint_dir](const TrainingState& state) {
    io::CheckpointTensors tensors;
    if (grid.replica() == 0) tensors = gather_checkpoint_tensors(collect_tensors(stage.store()), grid);
    if (grid.world_rank() != 0) return std::string();
    const std::string path = io::checkpoint_path(checkpoint_dir.string(), state.global_step);
    io::save_checkpoint(path, spec, state, cfg.resolved_ini, tensors);
    io::prune_checkpoints(checkpoint_dir.string(), cfg.keep_checkpoints);
    return path;
  };
}

// GPU backends report their peak and reserved device memory (rank 0's) when the run ends or stops.
void report_device_memory(const Backend& backend, RunLog& log) {
  std::string peak, reserved;
  for (const auto& [key, value] : backend.device_facts()) {
    if (key == "peak_gib") peak = value;
    if (key == "reserved_gib") reserved = value;
  }
  if (!peak.empty()) log.line("device memory (rank 0): peak ", peak, " GiB, reserved ", reserved, " GiB");
}

// --skip-bad: bad samples dropped from training shares and filled with repeats (Trainer), over all ranks.
void report_repeated_samples(const Trainer& trainer, const Grid& grid, RunLog& log) {
  std::vector<std::int64_t> repeated{trainer.repeated_samples()};
  allreduce_sum(repeated, grid.world());
  if (repeated[0] > 0)
    log.line("--skip-bad: ", repeated[0],
             " bad training samples were dropped; their places in the batch were "
             "filled by repeating good samples of the same share");
}

void log_run_header(const TrainConfig& cfg, const RunData& data, const Model& model, const HybridTrainer& steps,
                    const BatchSplit& split, const Backend& backend, RunLog& log) {
  const DataFacts& facts = data.facts;
  const ResNetSpec& spec = model.spec();
  log.line("cbednet train: ", facts.description, ", ", facts.train_labels.size(), " samples ", facts.sample.str(),
           " -> ", spec.arch, " (", model.parameter_count(), " parameters, ", spec.in_channels, "x", spec.input_size,
           "x", spec.input_size, " input, views ", to_string(cfg.views), ")");
  log.line("  ", steps.grid().stages() * split.replicas, " rank(s) as grid ", steps.grid().stages(), "x",
           split.replicas, " (stage cuts ", describe_cuts(steps.partition()), "), batch ", cfg.batch, " (", split.share,
           " per replica, micro-batch ", split.micro, "), ", facts.steps_per_epoch, " steps per epoch, ", cfg.epochs,
           " epochs, backend ", backend.name(), " ", cfg.backend.precision);
  if (!facts.validation_note.empty()) log.line("  ", facts.validation_note);
  const OptimizerConfig& o = cfg.optimizer;
  log.line("  optimizer ", to_string(o.kind), ", weight decay ", o.weight_decay,
           o.clip_grad_norm > 0 ? ", gradients clipped to global norm " + std::to_string(o.clip_grad_norm) : "",
           o.ema_decay > 0 ? ", weight average with decay " + std::to_string(o.ema_decay) : "");
  if (cfg.augment.enabled()) log.line("  augmentation (training batches) ", cfg.augment.describe());
}

// --recompute auto: the blocks of stage s = [first, last) that recompute so that its kept activations fit the budget
// (core/model/recompute_plan.hpp). The stage holds min(P - s, M) micro-batches at once under 1F1B, all M under
// GPipe. Throws naming --activation-memory-gb when the budget cannot be met.
RecomputePlan stage_recompute_plan(const TrainConfig& cfg, const BatchSplit& split, int stages, int stage,
                                   const Backend& backend, const Model& model, std::size_t first, std::size_t last) {
  const std::int64_t M = split.micro_batches, P = stages, s = stage;
  const std::int64_t in_flight =
      cfg.hybrid.schedule == PipelineSchedule::gpipe ? M : std::max<std::int64_t>(1, std::min(P - s, M));
  return plan_recompute(model, first, last, split.micro, in_flight, static_cast<double>(dtype_size(backend.dtype())),
                        cfg.activation_memory_gb * 1024 * 1024 * 1024);
}

// The pipeline options, with --recompute auto's per-stage choice for the balancer (a candidate stage that cannot
// meet the budget counts as recomputing every block; the stage finally chosen reports it in choose_recomputation).
HybridOptions hybrid_options(const TrainConfig& cfg, const BatchSplit& split, int stages, const Backend& backend,
                             const Model& model) {
  HybridOptions o = cfg.hybrid;
  if (o.recompute == Stage::Recompute::automatic)
    o.recompute_for = [&cfg, split, stages, &backend, &model](std::size_t first, std::size_t last, int stage) {
      try {
        return stage_recompute_plan(cfg, split, stages, stage, backend, model, first, last).recompute;
      } catch (const InvalidArgument&) {
        return std::vector<char>(last - first, 1);
      }
    };
  return o;
}

// --recompute auto: this rank's stage recomputes the fewest blocks whose kept activations fit the budget. Returns
// world rank 0's line for the log.
std::string choose_recomputation(const TrainConfig& cfg, const BatchSplit& split, const Grid& grid,
                                 const Backend& backend, const Model& model, Stage& stage) {
  if (cfg.hybrid.recompute != Stage::Recompute::automatic) return {};
  const RecomputePlan plan = stage_recompute_plan(cfg, split, grid.stages(), grid.stage(), backend, model,
                                                  stage.first_block(), stage.last_block());
  stage.set_recompute_blocks(plan.recompute);
  std::ostringstream out;
  const double gib = 1024.0 * 1024.0 * 1024.0;
  out << "--recompute auto (rank 0's stage): " << stage.recomputed_blocks() << " of "
      << stage.last_block() - stage.first_block() << " blocks recomputed, kept activations " << plan.kept_bytes / gib
      << " GiB (" << plan.none_bytes / gib << " GiB without recomputation)";
  return out.str();
}

// The state a run starts from: fresh, or a checkpoint's (this stage's tensors are loaded into the store by name).
TrainingState starting_state(const TrainConfig& cfg, const std::optional<std::string>& resume_from,
                             const ResNetSpec& spec, Stage& stage) {
  TrainingState state;
  state.seed = cfg.seed;
  if (!resume_from) return state;
  const auto [info, tensors] = io::load_checkpoint(*resume_from, spec);
  // A checkpoint without the optimizer state this run keeps was written with another --optimizer or --ema-decay.
  CBEDNET_REQUIRE(!stage.store().has_second_moment() || !tensors.second_moment.empty(), InvalidArgument,
                  "--resume: checkpoint ", *resume_from,
                  " holds no second moments: it was not trained with --optimizer ", to_string(cfg.optimizer.kind));
  CBEDNET_REQUIRE(!stage.store().has_ema() || !tensors.ema.empty(), InvalidArgument, "--resume: checkpoint ",
                  *resume_from, " holds no weight average: it was trained without --ema-decay");
  assign_tensors(stage.store(), tensors, *resume_from);  // this stage's tensors, by name
  CBEDNET_REQUIRE(info.state.seed == cfg.seed, InvalidArgument, "--resume: checkpoint ", *resume_from,
                  " was trained with --seed ", info.state.seed, ", not ", cfg.seed);
  return info.state;
}

// The model this run trains: the configured one on the data's channels and size, or --init-from's architecture
// (whose checkpoint info goes to `init`).
ResNetSpec run_model_spec(const TrainConfig& cfg, const DataFacts& facts, std::optional<io::CheckpointInfo>& init) {
  ResNetSpec spec = cfg.model;
  spec.in_channels = cfg.views == ViewMode::random ? 1 : facts.sample.c;
  spec.input_size = facts.sample.h;
  if (!cfg.init_from.empty()) {
    init = io::read_checkpoint_info(cfg.init_from);
    spec = fine_tuning_spec(cfg.init_from, *init, spec, spec.in_channels, spec.input_size);
  }
  return spec;
}

// The run's last log line and its exit code: 0 when finished or at --max-steps, exit_code_preempted on a signal.
int log_stop(StopReason reason, std::int64_t step, const fs::path& run_dir, RunLog& log) {
  if (reason == StopReason::max_steps) {
    log.line("stopped at global step ", step, " (--max-steps); continue with --resume");
    return 0;
  }
  if (reason == StopReason::signal) {
    log.line("stopped at global step ", step, " on ", stop_requested() ? stop_signal_name() : "a signal",
             "; continue with --resume (exit code ", exit_code_preempted, ")");
    return exit_code_preempted;
  }
  log.line("training finished: ", step, " steps; run directory ", fs::absolute(run_dir).string());
  return 0;
}

}  // namespace

int run_training(const TrainConfig& cfg) {
  const MPI_Comm world = MPI_COMM_WORLD;
  // ---- everything is checked before anything is written ------------------------------------------------------
  require_same_on_all_ranks(cfg.resolved_ini, "the configuration", world);
  const Grid grid(world, cfg.pipeline_stages, cfg.replicas);  // throws naming --grid when P x D != ranks
  const BatchSplit split = split_batch(cfg.batch, grid.replicas(), cfg.micro_batch, grid.stages());
  const fs::path run_dir(cfg.out), checkpoint_dir = run_dir / "checkpoints";
  std::string skipped_checkpoints;
  const std::optional<std::string> resume_from = resume_checkpoint(cfg, checkpoint_dir, skipped_checkpoints);
  const RunData data = open_data(cfg, grid);
  const DataFacts& facts = data.facts;

  // ---- model, this rank's pipeline stage, loss, optimizer ------------------------------------------------------
  std::optional<io::CheckpointInfo> init;  // --init-from: its architecture (also on resume), its weights (not)
  const ResNetSpec spec = run_model_spec(cfg, facts, init);
  Model model = build_resnet(spec);
  // --device cuda: the backend binds local rank modulo the visible devices (one GPU per rank on a node, and
  // also under srun --gpus-per-task=1 / jsrun -g1 where each rank sees exactly one).
  auto backend = make_backend(cfg.backend);
  HybridTrainer steps(*backend, model, grid, cfg.seed, hybrid_options(cfg, split, grid.stages(), *backend, model));
  const std::string recompute_note = choose_recomputation(cfg, split, grid, *backend, model, steps.stage());
  SoftmaxCrossEntropy loss(
      spec.classes, cfg.label_smoothing,
      class_weights(facts.train_labels, static_cast<int>(spec.classes), cfg.class_weighting, cfg.effective_beta));
  const std::unique_ptr<Optimizer> optimizer = make_optimizer(cfg.optimizer);
  optimizer->prepare(steps.stage().store());  // its state buffers exist before a checkpoint is loaded into them
  const TrainingState state = starting_state(cfg, resume_from, spec, steps.stage());
  const bool new_head = init && !resume_from && initialise_from(steps.stage(), cfg.init_from, *init, spec);
  optimizer->set_steps_taken(state.optimizer_steps);
  const TrainerConfig trainer_config{cfg.epochs,
                                     facts.steps_per_epoch,
                                     cfg.max_steps,
                                     cfg.seed,
                                     cfg.bn_momentum,
                                     cfg.views,
                                     resolved_schedule(cfg, facts.steps_per_epoch)};

  // ---- the run directory ------------------------------------------------------------------------------------
  RunLog log(run_dir, grid.world_rank() == 0);
  // The event file first: an unusable --tensorboard directory fails before the run directory is written.
  std::optional<TensorBoardCallback> tensorboard;
  if (grid.world_rank() == 0 && !cfg.tensorboard_dir.empty()) tensorboard.emplace(cfg.log_every, cfg.tensorboard_dir);
  if (grid.world_rank() == 0) {
    fs::create_directories(checkpoint_dir);
    write_file_atomically(run_dir / "config.ini", cfg.resolved_ini);
    if (resume_from) log.keep_epochs_before(state.epoch);
    log.open();
  }
  log_run_header(cfg, data, model, steps, split, *backend, log);
  if (!recompute_note.empty()) log.line("  ", recompute_note);
  if (data.train)  // only stage-0 ranks open the data; the log writes from world rank 0, which is one of them
    for (const auto& reason : data.train->skipped_at_open()) log.line("  skipped (--skip-bad): ", reason);
  if (tensorboard) log.line("  TensorBoard event file ", tensorboard->event_file().string());
  if (init && !resume_from)
    log.line("  initialised from ", cfg.init_from, " (", init->spec.arch, ", ", init->spec.classes, " classes)",
             new_head ? ", new head of " + std::to_string(spec.classes) + " classes" : std::string());
  if (resume_from) {
    if (!skipped_checkpoints.empty()) log.line("  ", skipped_checkpoints);
    log.line("  resumed from ", *resume_from, " at epoch ", state.epoch + 1, ", step ", state.step_in_epoch,
             " (global step ", state.global_step, ")");
  }

  // ---- the loop and its callbacks, in the order they act after a step -----------------------------------------
  Trainer trainer(steps, loss, *optimizer, data.train.get(), split, trainer_config, state);
  LossScaleCallback loss_scaling(cfg.loss_scaling, cfg.loss_scaler, resume_from.has_value(), log);
  NonFiniteCallback nonfinite(cfg.nonfinite, log);
  StopRequestCallback stop_requests([] { return stop_requested(); }, world);
  std::optional<ValidationCallback> validation;
  if (facts.has_validation)
    validation.emplace(data.validation.get(), facts.validation_labels, cfg.views,
                       metrics_for(static_cast<int>(spec.classes)), world);
  ProgressCallback progress(cfg.quiet ? 0 : cfg.log_every, log);
  CheckpointCallback checkpoints(cfg.checkpoint_every,
                                 checkpoint_writer(cfg, spec, steps.stage(), grid, checkpoint_dir), log, world);
  for (TrainingCallback* c : std::initializer_list<TrainingCallback*>{&loss_scaling, &nonfinite, &stop_requests})
    trainer.add(*c);
  if (validation) trainer.add(*validation);
  trainer.add(progress);
  if (tensorboard) trainer.add(*tensorboard);  // world rank 0 only: it writes and never communicates
  trainer.add(checkpoints);

  const StopSignals stop_signals;  // SIGTERM / SIGUSR1: checkpoint and exit at the end of the current step
  const StopReason reason = trainer.run();
  report_repeated_samples(trainer, grid, log);
  report_device_memory(*backend, log);
  return log_stop(reason, trainer.state().global_step, run_dir, log);
}

}  // namespace cbednet::app
