#include "core/parallel/schedule_run.hpp"

#include "core/stopwatch.hpp"

namespace cbednet {

ScheduleRun::ScheduleRun(Backend& backend, Stage& stage, const Grid& grid, Transport& pipe_transport,
                         GradReducer& reducer, PipelineSchedule schedule, SoftmaxCrossEntropy& loss,
                         const TrainStepOptions& options, Work work, StageTimings& timings)
    : backend_(backend),
      stage_(stage),
      grid_(grid),
      reducer_(reducer),
      loss_(loss),
      options_(options),
      work_(work),
      timings_(timings),
      pipe_(backend, pipe_transport),
      ops_(pipeline_schedule(schedule, grid.stages(), static_cast<int>(work.split.micro_batches), grid.stage())) {
  for (std::size_t k = 0; k < ops_.size(); ++k)
    if (ops_[k].kind == PipeOp::Kind::forward) last_forward_ = k;
  const auto M = static_cast<std::size_t>(work_.split.micro_batches);
  inputs_.resize(M);
  dlogits_.resize(M);
  contexts_.resize(M);
}

StepStats ScheduleRun::run() {
  // Labels travel once per step from stage 0 to the last stage.
  const int P = grid_.stages();
  if (P > 1 && grid_.first_stage()) pipe_.send(*work_.labels, P - 1, labels_tag);
  if (P > 1 && grid_.last_stage())
    labels_handle_ =
        pipe_.post_receive({work_.split.share, 1, 1, 1}, 0, labels_tag, DType::i32, Layout::nchw, /*on_host=*/true);
  for (std::size_t k = 0; k < ops_.size(); ++k) {
    if (ops_[k].kind == PipeOp::Kind::forward)
      forward(k);
    else
      backward(k);
  }
  pipe_.wait_sends(&timings_.p2p_wait);
  return stats_;
}

int ScheduleRun::next_of_kind(std::size_t k) const {
  for (std::size_t j = k + 1; j < ops_.size(); ++j)
    if (ops_[j].kind == ops_[k].kind) return ops_[j].micro;
  return -1;
}

Tensor ScheduleRun::receive(std::size_t k) {
  const int s = grid_.stage();
  const std::int64_t micro = work_.split.micro;
  const auto post = [&](PipeOp::Kind kind, int i) {
    return kind == PipeOp::Kind::forward ? pipe_.post_receive(stage_.input_shape(micro), s - 1, activation_tag(i),
                                                              backend_.dtype(), backend_.layout())
                                         : pipe_.post_receive(stage_.output_shape(micro), s + 1, gradient_tag(i),
                                                              backend_.dtype(), backend_.layout());
  };
  const int kind = ops_[k].kind == PipeOp::Kind::forward ? 0 : 1;
  if (posted_micro_[kind] != ops_[k].micro) posted_[kind] = post(ops_[k].kind, ops_[k].micro);
  Tensor t = pipe_.take(posted_[kind], &timings_.p2p_wait);
  posted_micro_[kind] = next_of_kind(k);
  if (posted_micro_[kind] >= 0) posted_[kind] = post(ops_[k].kind, posted_micro_[kind]);
  return t;
}

Tensor ScheduleRun::stage_input(int i) {
  // Backend::upload_async: a copy stream on GPUs (overlapping the micro-batch before), a plain copy on CPUs.
  return upload(backend_, work_.images->slice_batch(i * work_.split.micro, work_.split.micro), true);
}

const Tensor& ScheduleRun::loss_labels() {
  if (labels_handle_ < 0) return received_labels_.empty() ? *work_.labels : received_labels_;
  received_labels_ = pipe_.take(labels_handle_, &timings_.p2p_wait);
  labels_handle_ = -1;
  return received_labels_;
}

void ScheduleRun::forward(std::size_t k) {
  const int i = ops_[k].micro;
  const auto ui = static_cast<std::size_t>(i);
  const std::int64_t micro = work_.split.micro;
  Tensor x;
  if (grid_.first_stage()) {
    x = inputs_[ui].empty() ? stage_input(i) : std::move(inputs_[ui]);
    if (const int next = next_of_kind(k); next >= 0) inputs_[static_cast<std::size_t>(next)] = stage_input(next);
  } else {
    x = receive(k);
  }
  auto t0 = SteadyClock::now();
  const PassInfo pass{Mode::train, options_.seed, options_.step, work_.first_sample + i * micro};
  const Tensor out = stage_.forward(x, pass, &contexts_[ui]);
  if (grid_.last_stage()) {
    if (labels_handle_ >= 0) {  // the wait for the labels is not compute
      timings_.compute += seconds_since(t0);
      loss_labels();
      t0 = SteadyClock::now();
    }
    dlogits_[ui] = loss_and_gradient(backend_, loss_, out, loss_labels().slice_batch(i * micro, micro),
                                     work_.split.global, options_.loss_scale, stats_);
    timings_.compute += seconds_since(t0);
  } else {
    timings_.compute += seconds_since(t0);
    pipe_.send(out, grid_.stage() + 1, activation_tag(i));
  }
  if (k == last_forward_) reducer_.start_statistics();
}

void ScheduleRun::backward(std::size_t k) {
  const int i = ops_[k].micro;
  const auto ui = static_cast<std::size_t>(i);
  Tensor grad = grid_.last_stage() ? std::move(dlogits_[ui]) : receive(k);
  const auto t0 = SteadyClock::now();
  // The step's final backward reports each block as done, so that its gradient buckets start at once.
  const bool final_backward = k + 1 == ops_.size();
  grad = stage_.backward(
      grad, contexts_[ui],
      final_backward ? Stage::BlockDone([this](std::size_t j) { reducer_.block_done(j); }) : Stage::BlockDone());
  timings_.compute += seconds_since(t0);
  if (!grid_.first_stage()) pipe_.send(grad, grid_.stage() - 1, gradient_tag(i));
}

}  // namespace cbednet
