#include "core/model/preact_block.hpp"

namespace cbednet {

namespace {

Shape per_sample(Shape s) {
  s.n = 1;
  return s;
}

struct PreActContext final : BlockContext {
  Tensor x;
  std::vector<Tensor> act;       // output of BN+ReLU i: the input of conv i (act[0] also feeds a projection)
  std::vector<Tensor> conv_out;  // output of conv i for i < last: the input of BN i + 1
  std::vector<BatchNormSaved> saved;
};

}  // namespace

PreActBlock::PreActBlock(std::string name, ResidualBlock::Kind kind, std::int64_t in_channels, std::int64_t width,
                         int stride)
    : Block(name) {
  if (width <= 0 || in_channels <= 0 || stride <= 0)
    throw_error<ShapeError>("block ", name, ": invalid width ", width, ", input channels ", in_channels, ", stride ",
                            stride);
  auto add = [&](const std::string& suffix, std::int64_t cin, std::int64_t cout, int k, int s) {
    bns_.push_back(std::make_unique<BatchNorm>(name + ".bn" + suffix, cin, Activation::relu));
    convs_.push_back(std::make_unique<Conv2d>(name + ".conv" + suffix, cin, cout, k, s, k / 2));
  };
  if (kind == ResidualBlock::Kind::basic) {
    out_channels_ = width;
    add("1", in_channels, width, 3, stride);
    add("2", width, width, 3, 1);
  } else {
    out_channels_ = width * ResidualBlock::bottleneck_expansion;
    add("1", in_channels, width, 1, 1);
    add("2", width, width, 3, stride);
    add("3", width, out_channels_, 1, 1);
  }
  if (stride != 1 || in_channels != out_channels_)
    shortcut_conv_.emplace(name + ".shortcut.conv", in_channels, out_channels_, 1, stride, 0);
}

Shape PreActBlock::output_shape(const Shape& in) const {
  CBEDNET_REQUIRE(in.c == bns_[0]->channels(), ShapeError, "block ", name(), ": input ", in.str(), " has ", in.c,
                  " channels, the block takes ", bns_[0]->channels());
  Shape s = in;
  for (const auto& conv : convs_) s = conv->output_shape(s);
  if (shortcut_conv_) {
    CBEDNET_ASSERT(shortcut_conv_->output_shape(in) == s);
  } else if (in != s) {
    throw_error<ShapeError>("block ", name(), ": identity shortcut of ", in.str(), " does not match ", s.str());
  }
  return s;
}

std::vector<Layer*> PreActBlock::layers() {
  std::vector<Layer*> out;
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    out.push_back(bns_[i].get());
    out.push_back(convs_[i].get());
  }
  if (shortcut_conv_) out.push_back(&*shortcut_conv_);
  return out;
}

BlockCost PreActBlock::cost(const Shape& in) const {
  BlockCost cost;
  Shape s = per_sample(in);
  cost.saved_elements = s.count();  // the input
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    cost.parameters += bns_[i]->parameter_count() + convs_[i]->parameter_count();
    cost.forward_macs += convs_[i]->forward_macs(s);
    cost.saved_elements += s.count();  // BN+ReLU output
    s = convs_[i]->output_shape(s);
    if (i + 1 < convs_.size()) cost.saved_elements += s.count();  // conv output (the next BN's input)
  }
  if (shortcut_conv_) {
    cost.parameters += shortcut_conv_->parameter_count();
    cost.forward_macs += shortcut_conv_->forward_macs(per_sample(in));
  }
  cost.output_elements = s.count();
  return cost;
}

Tensor PreActBlock::forward(Backend& backend, const Tensor& x, const PassInfo& pass,
                            std::unique_ptr<BlockContext>* ctx) {
  const std::size_t last = convs_.size() - 1;
  if (pass.mode == Mode::eval || ctx == nullptr) {
    Tensor h = x.view(), shortcut = x.view();
    for (std::size_t i = 0; i <= last; ++i) {
      Tensor a = bns_[i]->forward_eval(backend, h, nullptr);
      if (i == 0 && shortcut_conv_) shortcut = shortcut_conv_->forward(backend, a);
      h = convs_[i]->forward(backend, a);
    }
    Tensor out = backend.allocate(h.shape());
    backend.add(h, shortcut, out);
    return out;
  }
  auto saved = std::make_unique<PreActContext>();
  saved->x = x.view();
  Tensor branch;
  for (std::size_t i = 0; i <= last; ++i) {
    auto bn = bns_[i]->forward_train(backend, i == 0 ? saved->x : saved->conv_out.back(), nullptr);
    saved->saved.push_back(std::move(bn.saved));
    saved->act.push_back(std::move(bn.y));
    Tensor c = convs_[i]->forward(backend, saved->act.back());
    if (i < last)
      saved->conv_out.push_back(std::move(c));
    else
      branch = std::move(c);
  }
  const Tensor shortcut = shortcut_conv_ ? shortcut_conv_->forward(backend, saved->act[0]) : x.view();
  Tensor out = backend.allocate(branch.shape());
  backend.add(branch, shortcut, out);
  *ctx = std::move(saved);
  return out;
}

Tensor PreActBlock::backward(Backend& backend, const Tensor& dy, BlockContext& base, bool need_dx) {
  auto& ctx = dynamic_cast<PreActContext&>(base);
  const std::size_t last = convs_.size() - 1;
  Tensor grad = dy.view();  // gradient at the output of conv i
  for (std::size_t j = 0; j <= last; ++j) {
    const std::size_t i = last - j;
    Tensor d_act;
    if (i == 0 && shortcut_conv_) {
      // The projection and the first convolution share their input: both gradients land in one tensor.
      d_act = shortcut_conv_->backward(backend, ctx.act[0], dy, true);
      convs_[0]->backward_add_dx(backend, ctx.act[0], grad, d_act);
    } else {
      d_act = convs_[i]->backward(backend, ctx.act[i], grad, true);
    }
    const Tensor& input = i == 0 ? ctx.x : ctx.conv_out[i - 1];
    grad = bns_[i]->backward(backend, input, ctx.act[i], d_act, ctx.saved[i], false).dx;
  }
  if (!need_dx) return {};
  if (shortcut_conv_) return grad;
  Tensor dx = backend.allocate(grad.shape());
  backend.add(grad, dy, dx);  // the clean identity path: dy reaches x unchanged
  return dx;
}

}  // namespace cbednet
