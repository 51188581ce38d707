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

Tensor Stage::forward(const Tensor& x, const PassInfo& pass, Context* ctx) {
  require_shape(x, input_shape(x.shape().n), "stage input (block " + model_.block(first_).name() + ")");
  if (ctx != nullptr) ctx->blocks.clear();
  Tensor h = x.view();
  for (std::size_t i = first_; i < last_; ++i) {
    std::unique_ptr<BlockContext> block_ctx;
    h = model_.block(i).forward(backend_, h, pass, ctx != nullptr ? &block_ctx : nullptr);
    if (ctx != nullptr) ctx->blocks.push_back(std::move(block_ctx));
  }
  return h;
}

Tensor Stage::backward(const Tensor& dy, Context& ctx, const BlockDone& block_done) {
  CBEDNET_REQUIRE(ctx.blocks.size() == last_ - first_, Error, "stage backward without a matching training forward");
  Tensor grad = dy.view();
  for (std::size_t j = last_; j-- > first_;) {
    const bool need_dx = j > 0;  // the model's input needs no gradient
    grad = model_.block(j).backward(backend_, grad, *ctx.blocks[j - first_], need_dx);
    ctx.blocks[j - first_].reset();  // free saved activations as soon as they are used
    if (block_done) block_done(j);
  }
  ctx.blocks.clear();
  return grad;
}

}  // namespace cbednet
