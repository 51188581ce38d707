#include "core/model/inference_graph.hpp"

#include "core/error.hpp"

namespace cbednet {

namespace {
const PassInfo kEvalPass{Mode::eval, 0, 0, 0};
}

InferenceGraph::InferenceGraph(Stage& stage, std::int64_t batch) : stage_(stage) {
  CBEDNET_REQUIRE(batch >= 1, InvalidArgument, "inference graph: batch must be at least 1, got ", batch);
  Backend& backend = stage_.backend();
  input_ = backend.allocate(stage_.input_shape(batch));
  // Eager first: whatever a first call of an operation searches, tunes or sets up must not happen while recording
  // (a capture records device work only; a search that synchronises would break it).
  output_ = stage_.forward(input_, kEvalPass, nullptr);
  backend.synchronize();
  output_ = Tensor();  // freed now, not while recording (where a freed block stays reserved for the recording)
  work_ = backend.capture([this] { output_ = stage_.forward(input_, kEvalPass, nullptr); });
}

InferenceGraph::~InferenceGraph() = default;

const Tensor& InferenceGraph::run() {
  if (work_)
    work_->replay();
  else
    output_ = stage_.forward(input_, kEvalPass, nullptr);
  return output_;
}

}  // namespace cbednet
