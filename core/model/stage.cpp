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
      store_(std::make_unique<ParamStore>(backend, block_range(model, first_block, last_block), seed)) {}

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
  throw_error<InvalidArgument>("--recompute: expected none or blocks, got '", text, "'");
}

std::string to_string(Stage::Recompute mode) { return mode == Stage::Recompute::blocks ? "blocks" : "none"; }

Tensor Stage::forward(const Tensor& x, const PassInfo& pass, Context* ctx) {
  require_shape(x, input_shape(x.shape().n), "stage input (block " + model_.block(first_).name() + ")");
  const bool recompute = ctx != nullptr && recompute_ == Recompute::blocks;
  if (ctx != nullptr) {
    ctx->blocks.clear();
    ctx->inputs.clear();
    ctx->pass = pass;
  }
  Tensor h = x.view();
  for (std::size_t i = first_; i < last_; ++i) {
    std::unique_ptr<BlockContext> block_ctx;
    if (recompute) ctx->inputs.push_back(h.view());
    h = model_.block(i).forward(backend_, h, pass, ctx != nullptr ? &block_ctx : nullptr);
    // Recomputation drops the block's saved state here (block_ctx dies); backward rebuilds it from the input.
    if (ctx != nullptr && !recompute) ctx->blocks.push_back(std::move(block_ctx));
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
  const bool recompute = !ctx.inputs.empty();
  CBEDNET_REQUIRE((recompute ? ctx.inputs.size() : ctx.blocks.size()) == last_ - first_, Error,
                  "stage backward without a matching training forward");
  Tensor grad = dy.view();
  for (std::size_t j = last_; j-- > first_;) {
    const bool need_dx = j > 0;  // the model's input needs no gradient
    if (recompute) {
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
