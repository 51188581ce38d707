// cbednet train: options -> TrainConfig -> app/training_run.cpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "app/model_options.hpp"
#include "app/subcommands.hpp"
#include "app/training_run.hpp"

namespace cbednet::app {

namespace {

std::vector<double> parse_list(const std::string& text, const char* option) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    try {
      out.push_back(std::stod(item));
    } catch (const std::exception&) {
      throw_error<InvalidArgument>("--", option, ": '", item, "' is not a number");
    }
  }
  return out;
}

po::options_description run_options() {
  po::options_description run("Run");
  // clang-format off
  run.add_options()
    ("data", po::value<std::string>()->required(), "SMC-2019 directory or file, or a packed file")
    ("train-split", po::value<std::string>()->default_value("train"), "split to train on (train, dev, test, all)")
    ("val-split", po::value<std::string>()->default_value("auto"),
     "split evaluated after each epoch: dev, test, none, or auto (dev when present)")
    ("out", po::value<std::string>()->required(), "run directory (configuration, log, metrics, checkpoints)")
    ("resume", po::bool_switch(), "continue the run in --out from its newest good checkpoint")
    ("init-from", po::value<std::string>(),
     "fine-tune: start from this checkpoint's architecture, weights and batch-norm statistics (e.g. cbednet "
     "import's) with a fresh optimizer; a new head when --classes differs")
    ("epochs", po::value<long>()->default_value(10), "epochs")
    ("batch", po::value<long>()->default_value(32), "global batch size (all replicas together)")
    ("max-steps", po::value<long>()->default_value(0), "stop (with a checkpoint) after this many steps in total")
    ("seed", po::value<unsigned long>()->default_value(1), "seed of every random draw")
    ("shuffle-files", po::value<long>()->default_value(0),
     "shuffle an SMC directory's samples within groups of this many files (0: across all files), for when its "
     "files cannot all stay open")
    ("checkpoint-every", po::value<long>()->default_value(0), "also checkpoint every N steps (0: end of epoch only)")
    ("keep-checkpoints", po::value<int>()->default_value(3), "checkpoints kept")
    ("log-every", po::value<long>()->default_value(10), "progress line every N steps")
    ("tensorboard", po::value<std::string>(),
     "TensorBoard event files in this directory (default: <out>/tensorboard; none: no event files)")
    ("activation-memory-gb", po::value<double>()->default_value(0.0),
     "--recompute auto: GiB of activations a rank may keep between forward and backward")
    ("nonfinite", po::value<std::string>()->default_value("stop"),
     "a step with a NaN/Inf loss or gradient: stop (naming the step and layer) or skip it")
    ("loss-scale", po::value<std::string>()->default_value("auto"),
     "loss scaling: auto (dynamic for --precision fp16, none otherwise), none, dynamic, or a fixed power of two")
    ("loss-scale-init", po::value<double>()->default_value(65536.0), "dynamic loss scaling: first scale (power of 2)")
    ("loss-scale-interval", po::value<long>()->default_value(2000),
     "dynamic loss scaling: finite steps in a row before the scale doubles");
  // clang-format on
  return run;
}

po::options_description optimisation_options() {
  po::options_description optim("Optimisation");
  // clang-format off
  optim.add_options()
    ("optimizer", po::value<std::string>()->default_value("sgd"),
     "sgd, adamw, lars or lamb (docs/training.md)")
    ("lr", po::value<double>()->default_value(0.1), "peak learning rate")
    ("momentum", po::value<double>()->default_value(0.9), "SGD and LARS momentum")
    ("nesterov", po::bool_switch(), "Nesterov momentum (sgd)")
    ("weight-decay", po::value<double>()->default_value(5e-5),
     "weight decay (conv and linear weights only; decoupled for adamw and lamb)")
    ("beta1", po::value<double>()->default_value(0.9), "adamw, lamb: first-moment decay, in [0, 1)")
    ("beta2", po::value<double>()->default_value(0.999), "adamw, lamb: second-moment decay, in [0, 1)")
    ("eps", po::value<double>()->default_value(1e-8), "adamw, lamb: denominator guard (> 0)")
    ("trust-coefficient", po::value<double>()->default_value(0.001), "lars: trust coefficient eta (> 0)")
    ("clip-grad-norm", po::value<double>()->default_value(0.0),
     "clip the gradients to this global norm over all stages and replicas (0: off)")
    ("ema-decay", po::value<double>()->default_value(0.0),
     "keep a moving average of the weights (e.g. 0.999; 0: off), checkpointed; evaluate and predict use it")
    ("warmup-epochs", po::value<double>()->default_value(0.0), "linear warm-up from 0.1 x lr (epochs)")
    ("lr-decay", po::value<std::string>()->default_value("cosine"), "cosine, step or constant")
    ("milestones", po::value<std::string>()->default_value(""), "step decay: epochs at which lr *= --lr-gamma")
    ("lr-gamma", po::value<double>()->default_value(0.1), "step decay factor")
    ("final-lr", po::value<double>()->default_value(0.0), "cosine decay target")
    ("label-smoothing", po::value<double>()->default_value(0.0), "label smoothing epsilon")
    ("class-weights", po::value<std::string>()->default_value("none"),
     "none, inverse (1/n per class) or effective (Cui et al. 2019, --effective-beta); mean 1 over the samples")
    ("effective-beta", po::value<double>()->default_value(0.999), "beta of the effective number of samples")
    ("bn-momentum", po::value<double>()->default_value(0.1), "batch-norm running-average momentum");
  // clang-format on
  return optim;
}

po::options_description augmentation_options() {
  po::options_description augment(
      "Augmentation (training only; what another acquisition could give: docs/training.md)");
  // clang-format off
  augment.add_options()
    ("augment-exposure", po::value<double>()->default_value(0.0),
     "scale each projection's intensities by exp(sigma z), z ~ N(0,1): the sigma (0: off)")
    ("augment-dose", po::value<double>()->default_value(0.0),
     "record each projection with this many electrons (Poisson shot noise; 0: off)")
    ("augment-shift", po::value<int>()->default_value(0),
     "shift each projection by up to this many pixels along each axis (detector offset; 0: off)");
  // clang-format on
  return augment;
}

// --data ... --nonfinite and --grid ...: what the run is, where it goes and how ranks share it.
void read_run(const po::variables_map& vm, TrainConfig& c) {
  c.data = vm["data"].as<std::string>();
  c.train_split = vm["train-split"].as<std::string>();
  c.val_split = vm["val-split"].as<std::string>();
  for (const auto& [option, split] :
       {std::pair{"--train-split", c.train_split}, std::pair{"--val-split", c.val_split}}) {
    const bool ok = split == "train" || split == "dev" || split == "test" || split == "all" ||
                    (std::string(option) == "--val-split" && (split == "none" || split == "auto"));
    CBEDNET_REQUIRE(ok, InvalidArgument, option, ": unknown split '", split, "'");
  }
  c.out = vm["out"].as<std::string>();
  c.resume = vm["resume"].as<bool>();
  if (vm.count("init-from") != 0U) {
    c.init_from = vm["init-from"].as<std::string>();
    for (const char* option : {"arch", "width", "width-multiplier", "stem", "zero-init-residual"})
      CBEDNET_REQUIRE(vm[option].defaulted(), InvalidArgument, "--", option,
                      ": the architecture comes from --init-from ", c.init_from, "; leave --", option, " out");
  }
  for (const char* name : {"epochs", "batch"}) require_positive(vm, name);
  c.epochs = vm["epochs"].as<long>();
  c.batch = vm["batch"].as<long>();
  c.max_steps = vm["max-steps"].as<long>();
  CBEDNET_REQUIRE(c.max_steps >= 0, InvalidArgument, "--max-steps: must not be negative");
  c.seed = vm["seed"].as<unsigned long>();
  c.shuffle_group_files = vm["shuffle-files"].as<long>();
  CBEDNET_REQUIRE(c.shuffle_group_files >= 0, InvalidArgument, "--shuffle-files: must not be negative");
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const ParallelChoice parallel = parallel_options_from(vm, ranks);
  c.pipeline_stages = parallel.stages;
  c.replicas = parallel.replicas;
  c.micro_batch = parallel.micro_batch;
  c.hybrid = parallel.hybrid;
  c.activation_memory_gb = vm["activation-memory-gb"].as<double>();
  const bool automatic = c.hybrid.recompute == Stage::Recompute::automatic;
  CBEDNET_REQUIRE(!automatic || (c.activation_memory_gb > 0 && std::isfinite(c.activation_memory_gb)), InvalidArgument,
                  "--recompute auto: needs a positive --activation-memory-gb, got ", c.activation_memory_gb);
  CBEDNET_REQUIRE(automatic || c.activation_memory_gb == 0, InvalidArgument,
                  "--activation-memory-gb: only with --recompute auto");
  c.checkpoint_every = vm["checkpoint-every"].as<long>();
  c.keep_checkpoints = vm["keep-checkpoints"].as<int>();
  CBEDNET_REQUIRE(c.keep_checkpoints >= 1, InvalidArgument, "--keep-checkpoints: must be at least 1");
  c.log_every = vm["log-every"].as<long>();
  c.quiet = vm["quiet"].as<bool>();
  c.tensorboard_dir = vm.count("tensorboard") ? vm["tensorboard"].as<std::string>() : c.out + "/tensorboard";
  if (c.tensorboard_dir == "none") c.tensorboard_dir.clear();
  CBEDNET_REQUIRE(vm.count("tensorboard") == 0 || !vm["tensorboard"].as<std::string>().empty(), InvalidArgument,
                  "--tensorboard: expected a directory or none");
  const auto nonfinite = vm["nonfinite"].as<std::string>();
  CBEDNET_REQUIRE(nonfinite == "stop" || nonfinite == "skip", InvalidArgument,
                  "--nonfinite: expected stop or skip, got '", nonfinite, "'");
  c.nonfinite = nonfinite == "skip" ? NonFinitePolicy::skip : NonFinitePolicy::stop;
}

// Device, preprocessing and reading.
void read_model_and_data(const po::variables_map& vm, TrainConfig& c) {
  c.model = model_spec_from(vm);
  c.backend = backend_options_from(vm);
  make_backend(c.backend);  // fail early on an impossible device or precision
  c.preprocess = preprocess_from(vm);
  c.views = parse_views(vm["views"].as<std::string>());
  c.skip_bad = vm["skip-bad"].as<bool>();
  c.io_threads = vm["io-threads"].as<int>();
  CBEDNET_REQUIRE(c.io_threads >= -1, InvalidArgument, "--io-threads: expected -1 (auto), 0 or a thread count, got ",
                  c.io_threads);
}

// --loss-scale auto|none|dynamic|<2^k>, --loss-scale-init, --loss-scale-interval (after the backend: auto
// depends on the precision).
void read_loss_scaling(const po::variables_map& vm, TrainConfig& c) {
  const auto loss_scale = vm["loss-scale"].as<std::string>();
  c.loss_scaler.initial = vm["loss-scale-init"].as<double>();
  c.loss_scaler.interval = vm["loss-scale-interval"].as<long>();
  // The cap (2^24) bounds growth; a larger first scale raises it (fp32 runs that test overflows start high).
  c.loss_scaler.max_scale = std::max(c.loss_scaler.max_scale, c.loss_scaler.initial);
  if (loss_scale == "auto") {
    c.loss_scaling =
        (c.backend.precision == "fp16" || c.backend.precision == "f16") ? LossScaling::dynamic : LossScaling::none;
  } else if (loss_scale == "none") {
    c.loss_scaling = LossScaling::none;
  } else if (loss_scale == "dynamic") {
    c.loss_scaling = LossScaling::dynamic;
  } else {
    c.loss_scaling = LossScaling::fixed;
    try {
      std::size_t used = 0;
      c.loss_scaler.initial = std::stod(loss_scale, &used);
      if (used != loss_scale.size()) throw std::invalid_argument(loss_scale);
    } catch (const std::exception&) {
      throw_error<InvalidArgument>("--loss-scale: expected auto, none, dynamic or a power of two, got '", loss_scale,
                                   "'");
    }
    c.loss_scaler.min_scale = c.loss_scaler.max_scale = c.loss_scaler.initial;
  }
  if (c.loss_scaling != LossScaling::none) {
    try {
      (void)DynamicLossScaler(c.loss_scaler);  // checks powers of two and ranges
    } catch (const InvalidArgument& e) {
      throw_error<InvalidArgument>("--loss-scale", c.loss_scaling == LossScaling::fixed ? "" : "-init", ": ", e.what());
    }
  }
}

// --lr ... --bn-momentum.
void read_optimisation(const po::variables_map& vm, TrainConfig& c) {
  OptimizerConfig& o = c.optimizer;
  o.kind = parse_optimizer_kind(vm["optimizer"].as<std::string>());
  o.momentum = vm["momentum"].as<double>();
  o.weight_decay = vm["weight-decay"].as<double>();
  o.nesterov = vm["nesterov"].as<bool>();
  o.beta1 = vm["beta1"].as<double>();
  o.beta2 = vm["beta2"].as<double>();
  o.eps = vm["eps"].as<double>();
  o.trust_coefficient = vm["trust-coefficient"].as<double>();
  o.clip_grad_norm = vm["clip-grad-norm"].as<double>();
  o.ema_decay = vm["ema-decay"].as<double>();
  o.validate();
  c.schedule.base_lr = vm["lr"].as<double>();
  c.schedule.decay = parse_decay(vm["lr-decay"].as<std::string>());
  c.schedule.gamma = vm["lr-gamma"].as<double>();
  c.schedule.final_lr = vm["final-lr"].as<double>();
  c.schedule.validate();
  c.warmup_epochs = vm["warmup-epochs"].as<double>();
  CBEDNET_REQUIRE(c.warmup_epochs >= 0, InvalidArgument, "--warmup-epochs: must not be negative");
  c.milestone_epochs = parse_list(vm["milestones"].as<std::string>(), "milestones");
  c.label_smoothing = vm["label-smoothing"].as<double>();
  CBEDNET_REQUIRE(c.label_smoothing >= 0 && c.label_smoothing < 1, InvalidArgument,
                  "--label-smoothing: must be in [0, 1)");
  const auto weighting = vm["class-weights"].as<std::string>();
  if (weighting == "none") {
    c.class_weighting = ClassWeighting::none;
  } else if (weighting == "inverse") {
    c.class_weighting = ClassWeighting::inverse;
  } else if (weighting == "effective") {
    c.class_weighting = ClassWeighting::effective;
  } else {
    throw_error<InvalidArgument>("--class-weights: expected none, inverse or effective, got '", weighting, "'");
  }
  c.effective_beta = vm["effective-beta"].as<double>();
  CBEDNET_REQUIRE(c.effective_beta > 0 && c.effective_beta < 1, InvalidArgument, "--effective-beta: must be in (0, 1)");
  c.bn_momentum = vm["bn-momentum"].as<double>();
  CBEDNET_REQUIRE(c.bn_momentum > 0 && c.bn_momentum <= 1, InvalidArgument, "--bn-momentum: must be in (0, 1]");
}

}  // namespace

int run_train(const Args& args) {
  const CommandSpec spec{
      "train", "Train a ResNet on SMC-layout or packed CBED data across the MPI ranks; resumable.",
      "cbednet train --data PATH --arch NAME --epochs E --batch B --out RUNDIR [--seed K] [--device cpu|cuda] "
      "[--precision fp64|fp32|tf32|bf16|fp16] [--grid PxD] [--resume]"};
  po::options_description all;
  all.add(run_options())
      .add(parallel_options())
      .add(optimisation_options())
      .add(augmentation_options())
      .add(model_options(0, /*with_input=*/false))
      .add(data_options())
      .add(backend_options());
  const auto parsed = parse_options(spec, all, args);
  if (!parsed) return 0;
  const auto& vm = *parsed;
  TrainConfig c;
  read_run(vm, c);
  read_model_and_data(vm, c);
  read_loss_scaling(vm, c);
  read_optimisation(vm, c);
  c.augment.exposure_sigma = vm["augment-exposure"].as<double>();
  c.augment.dose = vm["augment-dose"].as<double>();
  c.augment.shift = vm["augment-shift"].as<int>();
  c.augment.validate(std::numeric_limits<int>::max());  // ranges now; the shift against the image size once known
  c.resolved_ini = to_ini(vm);
  return run_training(c);
}

}  // namespace cbednet::app
