// InferenceGraph: one stage's evaluation forward recorded once (Backend::capture: a CUDA graph on the CUDA backend)
// and replayed for every batch, so that a small-batch forward costs one graph launch instead of one host-side
// launch per operation. On a backend that cannot record (the CPU backends, ProfilingBackend) run() is the plain
// eager forward, so callers need no second path.
//
// The recorded forward reads the stage's parameters (folded convolutions included) and the persistent input()
// tensor at the addresses they had when it was recorded, and writes the same output tensor on every replay.
// Hence:
// * copy each batch INTO input() (Backend::copy, upload_async); never replace the tensor;
// * the tensor run() returns is overwritten by the next run(): copy it out first if it must survive;
// * changing the stage's folded state afterwards (fold_batch_norms again, unfold_batch_norms, new parameters by
//   reallocation) leaves the recording stale: it would still run the old folded copies. Build a new
//   InferenceGraph after such a change. Parameter VALUES updated in place are seen (same addresses), but the folded
//   copies are only refreshed by folding again, which needs a new graph.
// The stage (and its backend) must outlive the InferenceGraph.
#pragma once

#include <cstdint>
#include <memory>

#include "core/model/stage.hpp"
#include "core/tensor.hpp"
#include "kernels/backend.hpp"

namespace cbednet {

class InferenceGraph {
 public:
  // Allocates input() with the stage's input shape for `batch` (the backend's dtype and layout), runs one eager
  // evaluation forward (the first-use work: cuDNN algorithm searches and autotuning, cuBLAS setup, the allocator's
  // cache) and then records the forward with Backend::capture. Throws InvalidArgument for batch < 1.
  InferenceGraph(Stage& stage, std::int64_t batch);
  ~InferenceGraph();
  InferenceGraph(const InferenceGraph&) = delete;
  InferenceGraph& operator=(const InferenceGraph&) = delete;

  // The persistent input the forward reads: copy each batch into it.
  Tensor& input() { return input_; }
  // The evaluation forward of input(): a replay when recorded, else an eager forward into a fresh output.
  // Asynchronous like any backend operation; the tensor stays valid until the next run().
  const Tensor& run();
  // Whether the backend recorded the forward (false: run() is eager).
  bool captured() const { return work_ != nullptr; }

 private:
  Stage& stage_;
  Tensor input_;
  Tensor output_;                       // written by the recorded forward (or by the last eager run)
  std::unique_ptr<CapturedWork> work_;  // declared last: destroyed first, before the tensors it writes
};

}  // namespace cbednet
