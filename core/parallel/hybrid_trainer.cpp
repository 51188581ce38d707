#include "core/parallel/hybrid_trainer.hpp"

#include <cmath>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "core/parallel/data_parallel.hpp"
#include "core/parallel/p2p.hpp"
#include "core/train/batch_split.hpp"

namespace cbednet {

namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Message tags on a pipeline communicator: activations and gradients per micro-batch, labels, evaluation.
int activation_tag(int micro) { return 4 * micro; }
int gradient_tag(int micro) { return 4 * micro + 1; }
int eval_tag(std::int64_t chunk) { return static_cast<int>(4 * chunk + 2); }
constexpr int labels_tag = 3;

std::string describe_model(const Model& model) {
  std::ostringstream out;
  out << model.spec().arch << " blocks " << model.size() << " params " << model.parameter_count() << " macs "
      << model.forward_macs_per_sample() << " input " << model.input_shape(1).str() << " classes " << model.classes();
  return out.str();
}

}  // namespace

Partition choose_partition(Backend& backend, Model& model, int stages, const HybridOptions& options,
                           std::uint64_t seed, MPI_Comm world) {
  if (!options.cuts.empty()) {
    const auto& c = options.cuts;
    bool ok = c.size() == static_cast<std::size_t>(stages) + 1 && c.front() == 0 && c.back() == model.size();
    for (std::size_t i = 0; ok && i + 1 < c.size(); ++i) ok = c[i] < c[i + 1];
    CBEDNET_REQUIRE(ok, InvalidArgument, "pipeline cuts: expected ", stages + 1,
                    " increasing block indices from 0 to ", model.size());
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
  std::vector<double> weights = block_macs(model);
  if (options.balance == BalanceBy::time) {
    // Measured on one rank and broadcast: timings differ between ranks, and the cuts must not.
    int rank = 0;
    check_mpi_call(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
    if (rank == 0) weights = measure_block_times(backend, model.spec(), options.balance_micro_batch, seed);
    check_mpi_call(MPI_Bcast(weights.data(), static_cast<int>(weights.size()), MPI_DOUBLE, 0, world),
                   "MPI_Bcast (block times)");
  }
  return partition_blocks(weights, stages);
}

HybridTrainer::HybridTrainer(Backend& backend, Model& model, const Grid& grid, std::uint64_t seed,
                             HybridOptions options)
    : backend_(backend), model_(model), grid_(grid), options_(std::move(options)) {
  std::ostringstream config;
  config << "grid " << grid.stages() << "x" << grid.replicas() << " schedule " << to_string(options_.schedule)
         << " balance " << (options_.balance == BalanceBy::time ? "time" : "macs") << " micro "
         << options_.balance_micro_batch << " bucket " << options_.bucket_bytes << " transport "
         << to_string(options_.transport) << " seed " << seed << " model "
         << describe_model(model) << " backend " << backend.name() << " " << to_string(backend.dtype()) << " cuts";
  for (const auto c : options_.cuts) config << " " << c;
  require_same_on_all_ranks(config.str(), "the pipeline configuration (--grid, model, schedule, balance, backend)",
                            grid.world());
  partition_ = choose_partition(backend, model, grid.stages(), options_, seed, grid.world());
  const auto s = static_cast<std::size_t>(grid.stage());
  stage_ = std::make_unique<Stage>(backend, model, partition_.cuts[s], partition_.cuts[s + 1], seed);
  // Collective over each group in turn; every rank creates the pipeline's transport first, then its replicas'.
  pipe_transport_ =
      make_transport(backend, grid.pipeline(), options_.transport, TransportUse::point_to_point, "pipeline");
  reduce_transport_ =
      make_transport(backend, grid.replicas_comm(), options_.transport, TransportUse::allreduce, "data-parallel");
  reducer_ = std::make_unique<GradReducer>(*stage_, *reduce_transport_, options_.bucket_bytes);
}

StepStats HybridTrainer::step(SoftmaxCrossEntropy& loss, SgdOptimizer& optimizer, const Tensor* images,
                              const Tensor* labels, std::int64_t global_batch, const TrainStepOptions& options) {
  const auto step_start = clock_type::now();
  timings_ = {};
  // Checks every rank makes identically, before any message: a bad option fails everywhere, nothing hangs.
  const int P = grid_.stages();
  const BatchSplit split = split_batch(global_batch, grid_.replicas(), options.micro_batch, P);
  const std::int64_t share = split.share, micro = split.micro;
  const int M = static_cast<int>(split.micro_batches);
  last_m_ = M;
  const std::int64_t first_sample = grid_.replica() * share;
  if (grid_.first_stage()) {
    CBEDNET_REQUIRE(images != nullptr && labels != nullptr, InvalidArgument,
                    "pipeline stage 0 needs the replica's images and labels");
    require_shape(*images, stage_->input_shape(share), "pipeline step images (replica share)");
    require_shape(*labels, {share, 1, 1, 1}, "pipeline step labels (replica share)");
  }

  Stage& stage = *stage_;
  ParamStore& store = stage.store();
  const int s = grid_.stage();
  TensorPipe pipe(backend_, *pipe_transport_);
  store.zero_grad();

  // Labels travel once per step from stage 0 to the last stage.
  Tensor label_buffer;
  const Tensor* step_labels = labels;
  int labels_handle = -1;
  if (P > 1 && grid_.first_stage()) pipe.send(*labels, P - 1, labels_tag);
  if (P > 1 && grid_.last_stage())
    labels_handle = pipe.post_receive({share, 1, 1, 1}, 0, labels_tag, DType::i32, Layout::nchw, /*on_host=*/true);

  const std::vector<PipeOp> ops = pipeline_schedule(options_.schedule, P, M, s);
  std::size_t last_forward = 0;
  for (std::size_t k = 0; k < ops.size(); ++k)
    if (ops[k].kind == PipeOp::Kind::forward) last_forward = k;
  // The micro-batch of the next op of the same kind after op k (-1 when none): its receive is posted early.
  auto next_of_kind = [&](std::size_t k) {
    for (std::size_t j = k + 1; j < ops.size(); ++j)
      if (ops[j].kind == ops[k].kind) return ops[j].micro;
    return -1;
  };
  const Shape in_shape = stage.input_shape(micro), out_shape = stage.output_shape(micro);
  auto post = [&](PipeOp::Kind kind, int i) {
    return kind == PipeOp::Kind::forward
               ? pipe.post_receive(in_shape, s - 1, activation_tag(i), backend_.dtype(), backend_.layout())
               : pipe.post_receive(out_shape, s + 1, gradient_tag(i), backend_.dtype(), backend_.layout());
  };
  int posted[2] = {-1, -1};  // handle of the prefetched receive per kind, and its micro-batch
  int posted_micro[2] = {-1, -1};
  auto receive = [&](std::size_t k) {
    const int kind = ops[k].kind == PipeOp::Kind::forward ? 0 : 1;
    if (posted_micro[kind] != ops[k].micro) posted[kind] = post(ops[k].kind, ops[k].micro);
    Tensor t = pipe.take(posted[kind], &timings_.p2p_wait);
    posted_micro[kind] = next_of_kind(k);
    if (posted_micro[kind] >= 0) posted[kind] = post(ops[k].kind, posted_micro[kind]);
    return t;
  };

  // Stage 0's input of micro-batch i: uploaded while the micro-batch before it computes (Backend::upload_async:
  // a copy stream on GPUs, a plain copy on CPUs).
  std::vector<Tensor> inputs(static_cast<std::size_t>(M));
  const auto stage_input = [&](int i) { return upload(backend_, images->slice_batch(i * micro, micro), true); };
  std::vector<Stage::Context> contexts(static_cast<std::size_t>(M));
  std::vector<Tensor> dlogits(static_cast<std::size_t>(M));
  StepStats stats;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const int i = ops[k].micro;
    const auto ui = static_cast<std::size_t>(i);
    if (ops[k].kind == PipeOp::Kind::forward) {
      Tensor x;
      if (grid_.first_stage()) {
        x = inputs[ui].empty() ? stage_input(i) : std::move(inputs[ui]);
        if (const int next = next_of_kind(k); next >= 0) inputs[static_cast<std::size_t>(next)] = stage_input(next);
      } else {
        x = receive(k);
      }
      const auto t0 = clock_type::now();
      const PassInfo pass{Mode::train, options.seed, options.step, first_sample + i * micro};
      Tensor out = stage.forward(x, pass, &contexts[ui]);
      if (grid_.last_stage()) {
        if (labels_handle >= 0) {
          timings_.compute += seconds_since(t0);
          label_buffer = pipe.take(labels_handle, &timings_.p2p_wait);
          labels_handle = -1;
          step_labels = &label_buffer;
        }
        const auto t1 = clock_type::now();
        dlogits[ui] = loss_and_gradient(backend_, loss, out, step_labels->slice_batch(i * micro, micro), global_batch,
                                        options.loss_scale, stats);
        timings_.compute += seconds_since(t1);
      } else {
        timings_.compute += seconds_since(t0);
        pipe.send(out, s + 1, activation_tag(i));
      }
      if (k == last_forward) reducer_->start_statistics();
    } else {
      Tensor grad = grid_.last_stage() ? std::move(dlogits[ui]) : receive(k);
      const auto t0 = clock_type::now();
      const bool final_backward = k + 1 == ops.size();
      // The final backward reports each block as done, so that its gradient buckets start at once.
      grad = stage.backward(grad, contexts[ui],
                            final_backward ? Stage::BlockDone([&](std::size_t j) { reducer_->block_done(j); })
                                           : Stage::BlockDone());
      timings_.compute += seconds_since(t0);
      if (!grid_.first_stage()) pipe.send(grad, s - 1, gradient_tag(i));
    }
  }
  pipe.wait_sends(&timings_.p2p_wait);
  timings_.reduce_wait = reducer_->finish();

  // Only last stages computed losses; summing over the world gives the global batch's statistics everywhere,
  // together with whether any rank holds a non-finite gradient. A non-finite step is never applied.
  std::vector<double> totals{stats.loss_sum, static_cast<double>(stats.correct), static_cast<double>(stats.samples),
                             has_nonfinite_gradient(store) ? 1.0 : 0.0};
  allreduce_sum(totals, grid_.world());
  const bool nonfinite = !std::isfinite(totals[0]) || totals[3] > 0;

  const auto t_update = clock_type::now();
  if (nonfinite)
    store.discard_step_statistics();
  else
    apply_update(stage, optimizer, global_batch / micro, options);
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
    Tensor x = grid_.first_stage()
                   ? upload(backend_, images->slice_batch(first, b))
                   : pipe.take(pipe.post_receive(stage_->input_shape(b), s - 1, eval_tag(index), backend_.dtype(),
                                                 backend_.layout()),
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
