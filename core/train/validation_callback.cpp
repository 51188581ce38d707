#include "core/train/validation_callback.hpp"

#include "core/parallel/grid.hpp"
#include "core/train/trainer.hpp"

namespace cbednet {

Predictions pipeline_predictions(HybridTrainer& steps, BatchSource* source, ViewMode views, int classes) {
  const MPI_Comm pipe = steps.grid().pipeline();
  auto flag = [&](int value) {
    check_mpi_call(MPI_Bcast(&value, 1, MPI_INT, 0, pipe), "MPI_Bcast (evaluation step)");
    return value;
  };
  if (!steps.grid().first_stage()) {
    while (flag(0) != 0) steps.predict_logits(nullptr);
    return {};
  }
  CBEDNET_REQUIRE(source != nullptr, InvalidArgument, "pipeline stage 0 needs the data to evaluate");
  Predictions p = predict_all(*source, views, classes, [&](const Tensor& images) {
    flag(1);
    return steps.predict_logits(&images);
  });
  flag(0);
  return p;
}

void ValidationCallback::on_epoch_end(Trainer& trainer, EpochRecord& record) {
  // With --ema-decay the moving average of the weights is what is evaluated (on every stage alike).
  const AveragedWeights averaged(trainer.steps().stage().store());
  const Predictions p = pipeline_predictions(trainer.steps(), source_, views_, empty_.classes());
  record.validation = evaluate_predictions(p, labels_, empty_, world_).compute();
}

}  // namespace cbednet
