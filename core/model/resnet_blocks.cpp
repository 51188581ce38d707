#include "core/model/resnet_blocks.hpp"

namespace cbednet {

namespace {
Shape per_sample(Shape s) {
  s.n = 1;
  return s;
}
}  // namespace

// ---- Stem ------------------------------------------------------------------------------------------------------

namespace {
struct StemContext final : BlockContext {
  Tensor x, conv_out, bn_out, pool_out;
  BatchNormSaved saved;
};
}  // namespace

Stem::Stem(std::string name, std::int64_t in_channels, std::int64_t width, StemKind kind, bool normalize)
    : Block(name),
      conv_(name + ".conv", in_channels, width, kind == StemKind::imagenet ? 7 : 3, kind == StemKind::imagenet ? 2 : 1,
            kind == StemKind::imagenet ? 3 : 1) {
  if (normalize) bn_.emplace(name + ".bn", width, Activation::relu);
  if (kind == StemKind::imagenet) pool_.emplace(name + ".pool", 3, 2, 1);
}

std::vector<Layer*> Stem::layers() {
  if (bn_) return {&conv_, &*bn_};
  return {&conv_};
}

Shape Stem::output_shape(const Shape& in) const {
  const Shape c = conv_.output_shape(in);
  return pool_ ? pool_->output_shape(c) : c;
}

BlockCost Stem::cost(const Shape& in) const {
  const Shape x = per_sample(in);
  const Shape c = conv_.output_shape(x);
  const Shape out = output_shape(x);
  return {conv_.parameter_count() + (bn_ ? bn_->parameter_count() : 0), conv_.forward_macs(x),
          x.count() + (bn_ ? 2 : 1) * c.count() + (pool_ ? out.count() : 0), out.count()};
}

int Stem::fold_batch_norms(Backend& backend) {
  if (!bn_) return 0;
  folded_.emplace(backend, conv_, *bn_);
  return 1;
}

Tensor Stem::forward(Backend& backend, const Tensor& x, const PassInfo& pass, std::unique_ptr<BlockContext>* ctx) {
  const bool eval = pass.mode == Mode::eval || ctx == nullptr;
  if (eval && folded_) {
    Tensor b = folded_->forward(backend, x, nullptr);
    return pool_ ? pool_->forward(backend, b) : std::move(b);
  }
  Tensor c = conv_.forward(backend, x);
  if (eval) {
    Tensor b = bn_ ? bn_->forward_eval(backend, c, nullptr) : std::move(c);
    return pool_ ? pool_->forward(backend, b) : std::move(b);
  }
  auto saved = std::make_unique<StemContext>();
  saved->x = x.view();
  if (bn_) {
    auto bn = bn_->forward_train(backend, c, nullptr);
    saved->conv_out = std::move(c);
    saved->saved = std::move(bn.saved);
    saved->bn_out = std::move(bn.y);
  } else {
    saved->bn_out = std::move(c);  // no BN: the convolution's output goes on (to the pool)
  }
  Tensor out = pool_ ? pool_->forward(backend, saved->bn_out) : saved->bn_out.view();
  if (pool_) saved->pool_out = out.view();
  *ctx = std::move(saved);
  return out;
}

Tensor Stem::backward(Backend& backend, const Tensor& dy, BlockContext& base, bool need_dx) {
  auto& ctx = dynamic_cast<StemContext&>(base);
  Tensor d_bn_out = pool_ ? pool_->backward(backend, ctx.bn_out, ctx.pool_out, dy) : dy.view();
  if (!bn_) return conv_.backward(backend, ctx.x, d_bn_out, need_dx);
  auto g = bn_->backward(backend, ctx.conv_out, ctx.bn_out, d_bn_out, ctx.saved, false);
  return conv_.backward(backend, ctx.x, g.dx, need_dx);
}

// ---- ResidualBlock -------------------------------------------------------------------------------------------------

namespace {
struct ResidualContext final : BlockContext {
  Tensor x;
  std::vector<Tensor> conv_out;  // input of each main-branch BN
  std::vector<Tensor> bn_out;    // output of each main-branch BN (the last is the block output)
  std::vector<BatchNormSaved> saved;
  Tensor shortcut_conv_out, shortcut_bn_out;
  BatchNormSaved shortcut_saved;
};
}  // namespace

ResidualBlock::ResidualBlock(std::string name, Kind kind, std::int64_t in_channels, std::int64_t width, int stride,
                             bool zero_init_last_gamma)
    : Block(name), kind_(kind) {
  if (width <= 0 || in_channels <= 0 || stride <= 0)
    throw_error<ShapeError>("block ", name, ": invalid width ", width, ", input channels ", in_channels, ", stride ",
                            stride);
  auto add = [&](const std::string& suffix, std::int64_t cin, std::int64_t cout, int k, int s, Activation act,
                 bool zero_gamma) {
    convs_.push_back(std::make_unique<Conv2d>(name + ".conv" + suffix, cin, cout, k, s, k / 2));
    bns_.push_back(std::make_unique<BatchNorm>(name + ".bn" + suffix, cout, act, zero_gamma));
  };
  if (kind == Kind::basic) {
    out_channels_ = width;
    add("1", in_channels, width, 3, stride, Activation::relu, false);
    add("2", width, width, 3, 1, Activation::relu, zero_init_last_gamma);
  } else {
    out_channels_ = width * bottleneck_expansion;
    add("1", in_channels, width, 1, 1, Activation::relu, false);
    add("2", width, width, 3, stride, Activation::relu, false);
    add("3", width, out_channels_, 1, 1, Activation::relu, zero_init_last_gamma);
  }
  if (stride != 1 || in_channels != out_channels_) {
    shortcut_conv_.emplace(name + ".shortcut.conv", in_channels, out_channels_, 1, stride, 0);
    shortcut_bn_.emplace(name + ".shortcut.bn", out_channels_, Activation::none);
  }
}

Shape ResidualBlock::output_shape(const Shape& in) const {
  Shape s = in;
  for (const auto& conv : convs_) s = conv->output_shape(s);
  if (shortcut_conv_) {
    const Shape sc = shortcut_conv_->output_shape(in);
    CBEDNET_ASSERT(sc == s);
  } else if (in != s) {
    throw_error<ShapeError>("block ", name(), ": identity shortcut of ", in.str(), " does not match ", s.str());
  }
  return s;
}

std::vector<Layer*> ResidualBlock::layers() {
  std::vector<Layer*> out;
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    out.push_back(convs_[i].get());
    out.push_back(bns_[i].get());
  }
  if (shortcut_conv_) {
    out.push_back(&*shortcut_conv_);
    out.push_back(&*shortcut_bn_);
  }
  return out;
}

BlockCost ResidualBlock::cost(const Shape& in) const {
  BlockCost cost;
  Shape s = per_sample(in);
  cost.saved_elements = s.count();
  // Per batch norm the unfused path keeps its input and output; the fused path only its input (the convolution's
  // output), plus the block's output once. (Model::info() is computed when the model is built, unfused, so the
  // planners count the larger unfused figure: conservative for a fused run.)
  const std::int64_t kept_per_norm = fused_ ? 1 : 2;
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    cost.parameters += convs_[i]->parameter_count() + bns_[i]->parameter_count();
    cost.forward_macs += convs_[i]->forward_macs(s);
    s = convs_[i]->output_shape(s);
    cost.saved_elements += kept_per_norm * s.count();
  }
  if (fused_) cost.saved_elements += s.count();
  if (shortcut_conv_) {
    cost.parameters += shortcut_conv_->parameter_count() + shortcut_bn_->parameter_count();
    cost.forward_macs += shortcut_conv_->forward_macs(per_sample(in));
    cost.saved_elements += kept_per_norm * s.count();
  }
  cost.output_elements = s.count();
  return cost;
}

int ResidualBlock::fold_batch_norms(Backend& backend) {
  unfold_batch_norms();
  for (std::size_t i = 0; i < convs_.size(); ++i) folded_.emplace_back(backend, *convs_[i], *bns_[i]);
  if (shortcut_conv_) folded_shortcut_.emplace(backend, *shortcut_conv_, *shortcut_bn_);
  return static_cast<int>(folded_.size()) + (folded_shortcut_ ? 1 : 0);
}

void ResidualBlock::unfold_batch_norms() {
  folded_.clear();
  folded_shortcut_.reset();
}

Tensor ResidualBlock::forward(Backend& backend, const Tensor& x, const PassInfo& pass,
                              std::unique_ptr<BlockContext>* ctx) {
  const std::size_t last = convs_.size() - 1;
  if ((pass.mode == Mode::eval || ctx == nullptr) && !folded_.empty()) {
    const Tensor shortcut = folded_shortcut_ ? folded_shortcut_->forward(backend, x, nullptr) : x.view();
    Tensor h = x.view();
    for (std::size_t i = 0; i < folded_.size(); ++i)
      h = folded_[i].forward(backend, h, i == last ? &shortcut : nullptr);
    return h;
  }
  if (pass.mode == Mode::eval || ctx == nullptr) {
    Tensor shortcut =
        shortcut_conv_ ? shortcut_bn_->forward_eval(backend, shortcut_conv_->forward(backend, x), nullptr) : x.view();
    Tensor h = x.view();
    for (std::size_t i = 0; i < convs_.size(); ++i)
      h = bns_[i]->forward_eval(backend, convs_[i]->forward(backend, h), i == last ? &shortcut : nullptr);
    return h;
  }
  if (fused_) return forward_fused(backend, x, ctx);
  auto saved = std::make_unique<ResidualContext>();
  saved->x = x.view();
  Tensor shortcut = x.view();
  if (shortcut_conv_) {
    saved->shortcut_conv_out = shortcut_conv_->forward(backend, x);
    auto bn = shortcut_bn_->forward_train(backend, saved->shortcut_conv_out, nullptr);
    saved->shortcut_saved = std::move(bn.saved);
    saved->shortcut_bn_out = std::move(bn.y);
    shortcut = saved->shortcut_bn_out.view();
  }
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    const Tensor& input = i == 0 ? saved->x : saved->bn_out.back();
    saved->conv_out.push_back(convs_[i]->forward(backend, input));
    auto bn = bns_[i]->forward_train(backend, saved->conv_out.back(), i == last ? &shortcut : nullptr);
    saved->saved.push_back(std::move(bn.saved));
    saved->bn_out.push_back(std::move(bn.y));
  }
  Tensor out = saved->bn_out.back().view();
  *ctx = std::move(saved);
  return out;
}

Tensor ResidualBlock::backward(Backend& backend, const Tensor& dy, BlockContext& base, bool need_dx) {
  if (fused_) return backward_fused(backend, dy, base, need_dx);
  auto& ctx = dynamic_cast<ResidualContext&>(base);
  const std::size_t last = convs_.size() - 1;
  // The block's input gradient is the shortcut's plus the main branch's. The shortcut's is computed as soon as
  // the last batch norm has given it its gradient, so that the first convolution's data gradient is added onto
  // it in the same pass (Conv2d::backward_add_dx).
  Tensor dx_sum;
  Tensor grad = dy.view();  // gradient at the output of BN i
  for (std::size_t j = 0; j <= last; ++j) {
    const std::size_t i = last - j;
    auto g = bns_[i]->backward(backend, ctx.conv_out[i], ctx.bn_out[i], grad, ctx.saved[i], i == last);
    if (i == last) {
      if (shortcut_conv_) {
        auto s = shortcut_bn_->backward(backend, ctx.shortcut_conv_out, ctx.shortcut_bn_out, g.dresidual,
                                        ctx.shortcut_saved, false);
        dx_sum = shortcut_conv_->backward(backend, ctx.x, s.dx, need_dx);
      } else {
        dx_sum = std::move(g.dresidual);
      }
    }
    if (i > 0) {
      grad = convs_[i]->backward(backend, ctx.bn_out[i - 1], g.dx, true);
    } else if (need_dx) {
      convs_[0]->backward_add_dx(backend, ctx.x, g.dx, dx_sum);
    } else {
      convs_[0]->backward(backend, ctx.x, g.dx, false);
    }
  }
  if (!need_dx) return {};
  return dx_sum;
}

// ---- ResidualBlock, fused batch norms (training) ------------------------------------------------------------------
//
// The MLPerf "NormConvolution" pattern: every convolution also sums its output per channel, the batch norm after it
// turns those sums into its statistics and affine map (BatchNorm::finalize), and the next convolution applies that
// map and the ReLU as it reads its input. The block's last batch norm, the shortcut's and the residual add and ReLU
// run as one pass (BatchNorm::apply). The normalised activations are never written: the block keeps each
// convolution's output and its own output, about half the unfused path's saved activations.

namespace {
struct FusedResidualContext final : BlockContext {
  Tensor x;
  std::vector<Tensor> conv_out;            // output of convolution i: the input of batch norm i
  std::vector<BatchNorm::Finalized> norm;  // batch norm i's micro-batch statistics and affine map
  Tensor shortcut_conv_out;
  std::optional<BatchNorm::Finalized> shortcut_norm;
  Tensor out;  // the block's output (its ReLU mask)
};

std::int64_t values_per_channel(const Shape& s) { return s.n * s.h * s.w; }
}  // namespace

Tensor ResidualBlock::forward_fused(Backend& backend, const Tensor& x, std::unique_ptr<BlockContext>* ctx) {
  const std::size_t last = convs_.size() - 1;
  auto saved = std::make_unique<FusedResidualContext>();
  saved->x = x.view();
  saved->norm.reserve(convs_.size());
  for (std::size_t i = 0; i <= last; ++i) {
    Conv2d::StatsOutput c;
    if (i == 0) {
      c = convs_[0]->forward_stats(backend, saved->x, nullptr);
    } else {
      const NormRelu input = bns_[i - 1]->as_input(saved->norm.back());
      c = convs_[i]->forward_stats(backend, saved->conv_out.back(), &input);
    }
    saved->norm.push_back(bns_[i]->finalize(backend, c.sum, c.sqsum, values_per_channel(c.y.shape())));
    saved->conv_out.push_back(std::move(c.y));
  }
  if (shortcut_conv_) {
    Conv2d::StatsOutput c = shortcut_conv_->forward_stats(backend, saved->x, nullptr);
    saved->shortcut_norm = shortcut_bn_->finalize(backend, c.sum, c.sqsum, values_per_channel(c.y.shape()));
    saved->shortcut_conv_out = std::move(c.y);
  }
  saved->out = bns_[last]->apply(backend, saved->conv_out[last], saved->norm[last],
                                 shortcut_conv_ ? saved->shortcut_conv_out : saved->x,
                                 saved->shortcut_norm ? &*saved->shortcut_norm : nullptr);
  Tensor out = saved->out.view();
  *ctx = std::move(saved);
  return out;
}

Tensor ResidualBlock::backward_fused(Backend& backend, const Tensor& dy, BlockContext& base, bool need_dx) {
  auto& ctx = dynamic_cast<FusedResidualContext&>(base);
  const std::size_t last = convs_.size() - 1;
  // The block's end as the unfused path has it: its output is the ReLU mask, and the residual's gradient goes to the
  // shortcut (through the shortcut's batch norm, which has no activation, so its y is not read).
  auto g = bns_[last]->backward(backend, ctx.conv_out[last], ctx.out, dy, ctx.norm[last].saved, true);
  Tensor dx_sum;
  if (shortcut_conv_) {
    auto s = shortcut_bn_->backward(backend, ctx.shortcut_conv_out, ctx.shortcut_conv_out, g.dresidual,
                                    ctx.shortcut_norm->saved, false);
    dx_sum = shortcut_conv_->backward(backend, ctx.x, s.dx, need_dx);
  } else {
    dx_sum = std::move(g.dresidual);
  }
  // Convolution i read relu(batch norm i-1 (conv_out[i-1])): its backward goes on through that ReLU and batch norm.
  Tensor grad = std::move(g.dx);  // gradient at conv_out[i]
  for (std::size_t i = last; i > 0; --i) {
    const NormRelu input = bns_[i - 1]->as_input(ctx.norm[i - 1]);
    grad = convs_[i]->backward_norm_relu(backend, ctx.conv_out[i - 1], input, grad, bns_[i - 1]->dgamma(),
                                         bns_[i - 1]->dbeta());
  }
  if (!need_dx) {
    convs_[0]->backward(backend, ctx.x, grad, false);
    return {};
  }
  convs_[0]->backward_add_dx(backend, ctx.x, grad, dx_sum);
  return dx_sum;
}

// ---- Head -----------------------------------------------------------------------------------------------------

namespace {
struct HeadContext final : BlockContext {
  Shape x_shape;
  Tensor x, activated;  // pre-activation head: the BN input and its BN+ReLU output
  BatchNormSaved saved;
  Tensor features;  // input of the fully connected layer (after dropout)
  Tensor mask;      // dropout mask, empty without dropout
};
}  // namespace

Head::Head(std::string name, std::int64_t in_channels, std::int64_t classes, double dropout, std::uint64_t dropout_id,
           bool pre_activation)
    : Block(name), pool_(name + ".pool"), fc_(name + ".fc", in_channels, classes) {
  if (pre_activation) bn_.emplace(name + ".bn", in_channels, Activation::relu);
  if (dropout > 0.0) dropout_.emplace(name + ".dropout", dropout, dropout_id);
}

std::vector<Layer*> Head::layers() {
  if (bn_) return {&*bn_, &fc_};
  return {&fc_};
}

Shape Head::output_shape(const Shape& in) const { return fc_.output_shape(pool_.output_shape(in)); }

BlockCost Head::cost(const Shape& in) const {
  const Shape x = per_sample(in);
  const Shape pooled = pool_.output_shape(x);
  return {fc_.parameter_count() + (bn_ ? bn_->parameter_count() : 0), pool_.forward_macs(x) + fc_.forward_macs(pooled),
          pooled.count() * (dropout_ ? 2 : 1) + (bn_ ? 2 * x.count() : 0), output_shape(x).count()};
}

Tensor Head::forward(Backend& backend, const Tensor& x, const PassInfo& pass, std::unique_ptr<BlockContext>* ctx) {
  const bool train = pass.mode == Mode::train && ctx != nullptr;
  if (!train) {
    const Tensor pooled = pool_.forward(backend, bn_ ? bn_->forward_eval(backend, x, nullptr) : x.view());
    return fc_.forward(backend, pooled);
  }
  auto saved = std::make_unique<HeadContext>();
  saved->x_shape = x.shape();
  Tensor pooled;
  if (bn_) {
    auto bn = bn_->forward_train(backend, x, nullptr);
    saved->x = x.view();
    saved->saved = std::move(bn.saved);
    saved->activated = std::move(bn.y);
    pooled = pool_.forward(backend, saved->activated);
  } else {
    pooled = pool_.forward(backend, x);
  }
  if (dropout_) {
    auto d = dropout_->forward_train(backend, pooled, pass.seed, pass.step, pass.first_sample);
    saved->features = std::move(d.y);
    saved->mask = std::move(d.mask);
  } else {
    saved->features = std::move(pooled);
  }
  Tensor logits = fc_.forward(backend, saved->features);
  *ctx = std::move(saved);
  return logits;
}

Tensor Head::backward(Backend& backend, const Tensor& dy, BlockContext& base, bool need_dx) {
  auto& ctx = dynamic_cast<HeadContext&>(base);
  Tensor d_features = fc_.backward(backend, ctx.features, dy, need_dx || bn_.has_value());
  if (!need_dx && !bn_) return {};
  if (dropout_) d_features = dropout_->backward(backend, d_features, ctx.mask);
  Tensor d_pool_in = pool_.backward(backend, ctx.x_shape, d_features);
  if (!bn_) return d_pool_in;
  auto g = bn_->backward(backend, ctx.x, ctx.activated, d_pool_in, ctx.saved, false);  // dgamma, dbeta
  if (!need_dx) return {};
  return std::move(g.dx);
}

}  // namespace cbednet
