#include "core/parallel/hybrid_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "core/batch_split.hpp"
#include "core/parallel/data_parallel.hpp"
#include "core/parallel/p2p.hpp"
#include "core/stopwatch.hpp"

namespace cbednet {

namespace {

std::string describe_model(const Model& model) {
  std::ostringstream out;
  out << model.spec().arch << " blocks " << model.size() << " params " << model.parameter_count() << " macs "
      << model.forward_macs_per_sample() << " input " << model.input_shape(1).str() << " classes " << model.classes();
  return out.str();
}

}  // namespace

Partition choose_partition(Backend& backend, Model& model, int stages, const HybridOptions& options, std::uint64_t seed,
                           MPI_Comm world) {
  if (!options.cuts.empty()) {
    const auto& c = options.cuts;
    bool ok = c.size() == static_cast<std::size_t>(stages) + 1 && c.front() == 0 && c.back() == model.size();
    for (std::size_t i = 0; ok && i + 1 < c.size(); ++i) ok = c[i] < c[i + 1];
    CBEDNET_REQUIRE(ok, InvalidArgument, "pipeline cuts: expected ", stages + 1, " increasing block indices from 0 to ",
                    model.size());
    std::vector<double> w = block_macs(model);
    Partition p;
    p.cuts = c;
    double total = 0, worst = 0;
    for (int s = 0; s < stages; ++s) {
      double sum = 0;
      for (std::size_t b = c[static_cast<std::size_t>(s)]; b < c[static_cast<std::size_t>(s) + 1]; ++b) sum += w[b];
      p.stage_weight.push_back(sum);
      total += sum;
      worst = std::max(worst, sum);
    }
    p.max_over_ideal = total > 0 ? worst * stages / total : 1.0;
    return p;
  }
  if (static_cast<std::size_t>(stages) > model.size()) return partition_blocks(block_macs(model), stages);  // throws
  BlockCosts costs = block_mac_costs(model);
  if (options.balance == BalanceBy::time) {
    // Measured on one rank and broadcast: timings differ between ranks, and the cuts must not.
    int rank = 0;
    check_mpi_call(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
    if (rank == 0) costs = measure_block_times(backend, model.spec(), options.balance_micro_batch, seed);
    for (std::vector<double>* times : {&costs.forward, &costs.backward})
      check_mpi_call(MPI_Bcast(times->data(), static_cast<int>(times->size()), MPI_DOUBLE, 0, world),
                     "MPI_Bcast (block times)");
  }
  switch (options.recompute) {
    case Stage::Recompute::blocks:
      return partition_blocks(training_weights(costs, std::vector<char>(model.size(), 1)), stages);
    case Stage::Recompute::automatic:
      if (options.recompute_for) return partition_with_recompute(costs, stages, options.recompute_for);
      break;
    case Stage::Recompute::none:
      break;
  }
  return partition_blocks(training_weights(costs, {}), stages);
}

HybridTrainer::HybridTrainer(Backend& backend, Model& model, const Grid& grid, std::uint64_t seed,
                             HybridOptions options)
    : backend_(backend), model_(model), grid_(grid), options_(std::move(options)) {
  std::ostringstream config;
  config << "grid " << grid.stages() << "x" << grid.replicas() << " schedule " << to_string(options_.schedule)
         << " balance " << (options_.balance == BalanceBy::time ? "time" : "macs") << " micro "
         << options_.balance_micro_batch << " bucket " << options_.bucket_bytes << " transport "
         << to_string(options_.transport) << " recompute " << to_string(options_.recompute) << " fused batch norm "
         << (options_.fused_batch_norm ? "on" : "off") << " seed " << seed << " model " << describe_model(model)
         << " backend " << backend.name() << " " << to_string(backend.dtype()) << " cuts";
  for (const auto c : options_.cuts) config << " " << c;
  require_same_on_all_ranks(config.str(), "the pipeline configuration (--grid, model, schedule, balance, backend)",
                            grid.world());
  partition_ = choose_partition(backend, model, grid.stages(), options_, seed, grid.world());
  const auto s = static_cast<std::size_t>(grid.stage());
  stage_ = std::make_unique<Stage>(backend, model, partition_.cuts[s], partition_.cuts[s + 1], seed);
  // auto: the caller sets the blocks chosen for its memory budget (recompute_plan.hpp) once the micro-batch is known.
  if (options_.recompute != Stage::Recompute::automatic) stage_->set_recompute(options_.recompute);
  stage_->set_fused_batch_norm(options_.fused_batch_norm);
  // Collective over each group in turn; every rank creates the pipeline's transport first, then its replicas'.
  pipe_transport_ =
      make_transport(backend, grid.pipeline(), options_.transport, TransportUse::point_to_point, "pipeline");
  reduce_transport_ =
      make_transport(backend, grid.replicas_comm(), options_.transport, TransportUse::allreduce, "data-parallel");
  reducer_ = std::make_unique<GradReducer>(*stage_, *reduce_transport_, options_.bucket_bytes);
}

StepStats HybridTrainer::step(SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Tensor* images,
                              const Tensor* labels, std::int64_t global_batch, const TrainStepOptions& options) {
  const auto step_start = SteadyClock::now();
  timings_ = {};
  // Checks every rank makes identically, before any message: a bad option fails everywhere, nothing hangs.
  const int P = grid_.stages();
  const BatchSplit split = split_batch(global_batch, grid_.replicas(), options.micro_batch, P);
  const std::int64_t share = split.share;
  last_m_ = split.micro_batches;
  const std::int64_t first_sample = grid_.replica() * share;
  if (grid_.first_stage()) {
    CBEDNET_REQUIRE(images != nullptr && labels != nullptr, InvalidArgument,
                    "pipeline stage 0 needs the replica's images and labels");
    require_shape(*images, stage_->input_shape(share), "pipeline step images (replica share)");
    require_shape(*labels, {share, 1, 1, 1}, "pipeline step labels (replica share)");
  }

  Stage& stage = *stage_;
  ParamStore& store = stage.store();
  store.zero_grad();
  const StepStats stats = ScheduleRun(backend_, stage, grid_, *pipe_transport_, *reducer_, options_.schedule, loss,
                                      options, {images, labels, split, first_sample}, timings_)
                              .run();
  timings_.reduce_wait = reducer_->finish();

  // Only last stages computed losses; summing over the world gives the global batch's statistics everywhere,
  // together with whether any rank holds a non-finite gradient. A non-finite step is never applied.
  std::vector<double> totals{stats.loss_sum, static_cast<double>(stats.correct), static_cast<double>(stats.samples),
                             has_nonfinite_gradient(store) ? 1.0 : 0.0};
  allreduce_sum(totals, grid_.world());
  const bool nonfinite = !std::isfinite(totals[0]) || totals[3] > 0;

  const auto t_update = SteadyClock::now();
  if (nonfinite)
    store.discard_step_statistics();
  else
    apply_update(stage, optimizer, global_batch / split.micro, options,
                 [this](const std::vector<double>& mine) { return sum_over_pipeline(mine, grid_.pipeline()); });
  backend_.synchronize();
  timings_.update = seconds_since(t_update);
  timings_.step = seconds_since(step_start);
  StepStats out{totals[0], static_cast<std::int64_t>(totals[1]), static_cast<std::int64_t>(totals[2])};
  out.nonfinite = nonfinite;
  return out;
}

Tensor HybridTrainer::predict_logits(const Tensor* images, std::int64_t chunk) {
  CBEDNET_REQUIRE(chunk >= 1, InvalidArgument, "evaluation chunk must be at least 1");
  const int P = grid_.stages(), s = grid_.stage();
  if (P == 1) {
    CBEDNET_REQUIRE(images != nullptr, InvalidArgument, "pipeline stage 0 needs the images to evaluate");
    return cbednet::predict_logits(*stage_, *images, chunk);
  }
  const MPI_Comm pipe_comm = grid_.pipeline();
  std::int64_t n = 0;
  if (grid_.first_stage()) {
    CBEDNET_REQUIRE(images != nullptr, InvalidArgument, "pipeline stage 0 needs the images to evaluate");
    n = images->shape().n;
  }
  check_mpi_call(MPI_Bcast(&n, 1, MPI_INT64_T, 0, pipe_comm), "MPI_Bcast (evaluation size)");
  TensorPipe pipe(backend_, *pipe_transport_);
  const PassInfo pass{Mode::eval, 0, 0, 0};
  const std::int64_t K = model_.classes();
  std::int64_t index = 0;
  for (std::int64_t first = 0; first < n; first += chunk, ++index) {
    const std::int64_t b = std::min(chunk, n - first);
    Tensor x = grid_.first_stage() ? upload(backend_, images->slice_batch(first, b))
                                   : pipe.take(pipe.post_receive(stage_->input_shape(b), s - 1, eval_tag(index),
                                                                 backend_.dtype(), backend_.layout()),
                                               nullptr);
    Tensor out = stage_->forward(x, pass, nullptr);
    if (grid_.last_stage())
      pipe.send(download_f64(backend_, out), 0, eval_tag(index));
    else
      pipe.send(out, s + 1, eval_tag(index));
    if (grid_.first_stage()) pipe.wait_sends(nullptr);  // bounds stage 0's memory; stage 1 always drains
  }
  Tensor logits;
  if (grid_.first_stage()) {
    logits = Tensor({n, K, 1, 1}, DType::f64);
    index = 0;
    for (std::int64_t first = 0; first < n; first += chunk, ++index) {
      const std::int64_t b = std::min(chunk, n - first);
      Tensor part = logits.slice_batch(first, b);
      check_mpi_call(MPI_Recv(part.raw(), static_cast<int>(part.bytes()), MPI_BYTE, P - 1, eval_tag(index), pipe_comm,
                              MPI_STATUS_IGNORE),
                     "MPI_Recv (evaluation logits)");
    }
  }
  pipe.wait_sends(nullptr);
  return logits;
}

}  // namespace cbednet
