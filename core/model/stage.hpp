// Stage: a contiguous range of a model's blocks [first, last) with its own parameter store, run on one backend.
// Serial training uses one stage holding every block; a pipeline gives each rank one stage.
//
// Activation recomputation (--recompute blocks): the training forward keeps only each block's input (the block
// boundaries) and drops what the block saved for backward; backward runs each block's training forward again from
// its input, just before that block's backward. Every random draw is keyed by (seed, step, sample) and batch
// statistics depend only on the input, so the recomputed forward is the same computation and the gradients are
// bit-identical on deterministic backends. The batch-norm statistic sums of the step are kept from the first forward
// (the recomputation's are undone), so running statistics are unchanged too.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/model/model.hpp"
#include "core/model/param_store.hpp"

namespace cbednet {

class Stage {
 public:
  // Saved state of one micro-batch in flight.
  struct Context {
    std::vector<std::unique_ptr<BlockContext>> blocks;  // per block: its saved state (null when recomputed)
    std::vector<Tensor> inputs;                         // per block: its input when recomputed (else empty)
    PassInfo pass;                                      // the forward's pass, to run it again
  };
  // none: keep every block's state; blocks: recompute every block; auto: the blocks recompute_plan.hpp chooses
  // for a memory budget (set_recompute_blocks).
  enum class Recompute : std::uint8_t { none, blocks, automatic };

  Stage(Backend& backend, Model& model, std::size_t first_block, std::size_t last_block, std::uint64_t seed);

  bool is_first() const { return first_ == 0; }
  bool is_last() const { return last_ == model_.size(); }
  std::size_t first_block() const { return first_; }
  std::size_t last_block() const { return last_; }
  Shape input_shape(std::int64_t batch) const;
  Shape output_shape(std::int64_t batch) const;

  // Training forward when ctx is given, evaluation forward otherwise.
  Tensor forward(const Tensor& x, const PassInfo& pass, Context* ctx);
  // Called with a model block's index as soon as its parameter gradients of this backward are complete (the
  // data-parallel reducer starts that block's buckets then).
  using BlockDone = std::function<void(std::size_t block)>;
  // Accumulates this stage's parameter gradients; returns the gradient of the stage input (empty for the first
  // stage).
  Tensor backward(const Tensor& dy, Context& ctx, const BlockDone& block_done = {});

  // none or blocks for every block of the stage (auto: use set_recompute_blocks).
  void set_recompute(Recompute mode);
  // Per block of the stage (last - first flags): which blocks recompute.
  void set_recompute_blocks(std::vector<char> recompute);
  std::size_t recomputed_blocks() const;

  // Training through the fused batch-norm operations in every block that has such a path
  // (Block::set_fused_batch_norm); returns how many blocks of the stage took it.
  int set_fused_batch_norm(bool on);

  // Inference: every batch norm that follows a convolution is folded into it (Block::fold_batch_norms) from the
  // parameters and statistics as they are now; returns how many. The evaluation forward then runs the folded
  // convolutions; the training forward refuses to run until unfold_batch_norms() (the folded copies would be stale).
  int fold_batch_norms();
  void unfold_batch_norms();
  int folded_batch_norms() const { return folded_; }

  ParamStore& store() { return *store_; }
  Backend& backend() { return backend_; }
  Model& model() { return model_; }

 private:
  Backend& backend_;
  Model& model_;
  std::size_t first_, last_;
  std::unique_ptr<ParamStore> store_;
  std::vector<char> recompute_;  // per block of the stage
  int folded_ = 0;               // batch norms folded for inference

  // The training forward of `block` again from its saved input, with the step's batch-norm sums left as they were.
  std::unique_ptr<BlockContext> recompute_block(std::size_t block, const Context& ctx);
};

// "none" / "blocks" / "auto"; InvalidArgument naming --recompute otherwise.
Stage::Recompute parse_recompute(const std::string& text);
std::string to_string(Stage::Recompute mode);

}  // namespace cbednet
