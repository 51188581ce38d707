#include "core/model/stage.hpp"

namespace cbednet {

namespace {
std::vector<Block*> block_range(Model& model, std::size_t first, std::size_t last) {
  if (first >= last || last > model.size())
    throw_error<InvalidArgument>("stage: invalid block range [", first, ", ", last, ") of a model with ", model.size(),
                                 " blocks");
  std::vector<Block*> blocks;
  for (std::size_t i = first; i < last; ++i) blocks.push_back(&model.block(i));
  return blocks;
}
}  // namespace

Stage::Stage(Backend& backend, Model& model, std::size_t first_block, std::size_t last_block, std::uint64_t seed)
    : backend_(backend),
      model_(model),
      first_(first_block),
      last_(last_block),
      store_(std::make_unique<ParamStore>(backend, block_range(model, first_block, last_block), seed)),
      recompute_(last_block - first_block, 0) {}

void Stage::set_recompute(Recompute mode) {
  CBEDNET_REQUIRE(mode != Recompute::automatic, InvalidArgument,
                  "--recompute auto: only train chooses the blocks (from --activation-memory-gb)");
  recompute_.assign(last_ - first_, mode == Recompute::blocks ? 1 : 0);
}

void Stage::set_recompute_blocks(std::vector<char> recompute) {
  CBEDNET_REQUIRE(recompute.size() == last_ - first_, InvalidArgument, "recompute flags: ", recompute.size(),
                  " for a stage of ", last_ - first_, " blocks");
  recompute_ = std::move(recompute);
}

std::size_t Stage::recomputed_blocks() const {
  std::size_t n = 0;
  for (const char r : recompute_) n += r != 0 ? 1 : 0;
  return n;
}

int Stage::set_fused_batch_norm(bool on) {
  int fused = 0;
  for (std::size_t i = first_; i < last_; ++i) fused += model_.block(i).set_fused_batch_norm(on) ? 1 : 0;
  return on ? fused : 0;
}

Shape Stage::input_shape(std::int64_t batch) const {
  Shape s = model_.info()[first_].input;
  s.n = batch;
  return s;
}

Shape Stage::output_shape(std::int64_t batch) const {
  Shape s = model_.info()[last_ - 1].output;
  s.n = batch;
  return s;
}

Stage::Recompute parse_recompute(const std::string& text) {
  if (text == "none") return Stage::Recompute::none;
  if (text == "blocks") return Stage::Recompute::blocks;
  if (text == "auto") return Stage::Recompute::automatic;
  throw_error<InvalidArgument>("--recompute: expected none, blocks or auto, got '", text, "'");
}

std::string to_string(Stage::Recompute mode) {
  return mode == Stage::Recompute::blocks ? "blocks" : mode == Stage::Recompute::automatic ? "auto" : "none";
}

int Stage::fold_batch_norms() {
  unfold_batch_norms();
  for (std::size_t i = first_; i < last_; ++i) folded_ += model_.block(i).fold_batch_norms(backend_);
  return folded_;
}

void Stage::unfold_batch_norms() {
  for (std::size_t i = first_; i < last_; ++i) model_.block(i).unfold_batch_norms();
  folded_ = 0;
}

Tensor Stage::forward(const Tensor& x, const PassInfo& pass, Context* ctx) {
  require_shape(x, input_shape(x.shape().n), "stage input (block " + model_.block(first_).name() + ")");
  CBEDNET_REQUIRE(ctx == nullptr || folded_ == 0, Error, "stage of blocks ", model_.block(first_).name(), "..",
                  model_.block(last_ - 1).name(), ": training forward with ", folded_,
                  " batch norms folded for inference (unfold them first)");
  if (ctx != nullptr) {
    ctx->blocks.clear();
    ctx->inputs.clear();
    ctx->pass = pass;
  }
  Tensor h = x.view();
  for (std::size_t i = first_; i < last_; ++i) {
    std::unique_ptr<BlockContext> block_ctx;
    const bool again = ctx != nullptr && recompute_[i - first_] != 0;
    if (ctx != nullptr) ctx->inputs.push_back(again ? h.view() : Tensor());
    h = model_.block(i).forward(backend_, h, pass, ctx != nullptr ? &block_ctx : nullptr);
    // Recomputation drops the block's saved state here (block_ctx dies); backward rebuilds it from the input.
    if (ctx != nullptr) ctx->blocks.push_back(again ? nullptr : std::move(block_ctx));
  }
  return h;
}

std::unique_ptr<BlockContext> Stage::recompute_block(std::size_t block, const Context& ctx) {
  // The recomputed forward adds its batch statistics to the step's sums a second time: put the sums back after it.
  Tensor& sums = store_->accumulators();
  Tensor held = backend_.allocate(sums.shape(), sums.dtype(), sums.layout());
  backend_.copy(sums, held);
  std::unique_ptr<BlockContext> block_ctx;
  model_.block(block).forward(backend_, ctx.inputs[block - first_], ctx.pass, &block_ctx);
  backend_.copy(held, sums);
  return block_ctx;
}

Tensor Stage::backward(const Tensor& dy, Context& ctx, const BlockDone& block_done) {
  CBEDNET_REQUIRE(ctx.blocks.size() == last_ - first_ && ctx.inputs.size() == last_ - first_, Error,
                  "stage backward without a matching training forward");
  Tensor grad = dy.view();
  for (std::size_t j = last_; j-- > first_;) {
    const bool need_dx = j > 0;  // the model's input needs no gradient
    if (!ctx.blocks[j - first_]) {
      const std::unique_ptr<BlockContext> block_ctx = recompute_block(j, ctx);
      grad = model_.block(j).backward(backend_, grad, *block_ctx, need_dx);
      ctx.inputs[j - first_] = Tensor();  // the boundary is no longer needed
    } else {
      grad = model_.block(j).backward(backend_, grad, *ctx.blocks[j - first_], need_dx);
      ctx.blocks[j - first_].reset();  // free saved activations as soon as they are used
    }
    if (block_done) block_done(j);
  }
  ctx.blocks.clear();
  ctx.inputs.clear();
  return grad;
}

}  // namespace cbednet
