// Stage: a contiguous range of a model's blocks [first, last) with its own parameter store, run on one backend.
// Serial training uses one stage holding every block; a pipeline gives each rank one stage.
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
    std::vector<std::unique_ptr<BlockContext>> blocks;
  };

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

  ParamStore& store() { return *store_; }
  Backend& backend() { return backend_; }
  Model& model() { return model_; }

 private:
  Backend& backend_;
  Model& model_;
  std::size_t first_, last_;
  std::unique_ptr<ParamStore> store_;
};

}  // namespace cbednet
