#include "core/model/param_store.hpp"

#include <cmath>

#include "core/layers/batchnorm.hpp"

namespace cbednet {

std::uint64_t stable_hash(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

constexpr std::int64_t alignment = 64;  // elements: 256 B in fp32, enough for vector loads and cuDNN
std::int64_t aligned(std::int64_t n) { return (n + alignment - 1) / alignment * alignment; }

// Host values of one parameter, in NCHW order, from its own random stream.
Tensor initial_values(const ParamSpec& spec, const std::string& full_name, std::uint64_t seed) {
  Tensor host(spec.shape, DType::f64);
  auto v = host.span<double>();
  const RandomStream stream(seed, RngPurpose::init, stable_hash(full_name));
  switch (spec.kind) {
    case ParamKind::conv_weight: {  // Kaiming normal, fan_out, ReLU gain (torchvision's ResNet)
      const double stddev = std::sqrt(2.0 / static_cast<double>(spec.fan_out));
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = stddev * stream.normal(i);
      break;
    }
    case ParamKind::linear_weight:
    case ParamKind::linear_bias: {  // PyTorch's nn.Linear default
      const double bound = 1.0 / std::sqrt(static_cast<double>(spec.fan_in));
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = bound * (2.0 * stream.uniform(i) - 1.0);
      break;
    }
    case ParamKind::bn_gamma:
      for (auto& x : v) x = spec.zero_init ? 0.0 : 1.0;
      break;
    case ParamKind::conv_bias:
    case ParamKind::bn_beta:
      break;  // zero
  }
  return host;
}

// Appends [offset, offset + count) to `segments`, merged into the last one when it continues it with equal decay.
void append_segment(std::vector<FlatSegment>& segments, std::int64_t offset, std::int64_t count, bool decayed) {
  if (!segments.empty()) {
    FlatSegment& last = segments.back();
    if (last.offset + last.count == offset && last.decayed == decayed) {
      last.count += count;
      return;
    }
  }
  segments.push_back({offset, count, decayed});
}

}  // namespace

ParamStore::ParamStore(Backend& backend, const std::vector<Block*>& blocks, std::uint64_t seed) : backend_(backend) {
  struct Pending {
    Layer* layer;
    std::vector<ParamSpec> params;
    std::vector<BufferSpec> buffers;
  };
  std::vector<Pending> pending;
  std::int64_t param_elements = 0, buffer_elements = 0, accumulator_elements = 0;
  for (Block* block : blocks)
    for (Layer* layer : block->layers()) {
      Pending p{layer, layer->param_specs(), layer->buffer_specs()};
      for (const auto& s : p.params) param_elements += aligned(s.shape.count());
      for (const auto& s : p.buffers) (s.step_accumulator ? accumulator_elements : buffer_elements) += s.shape.count();
      pending.push_back(std::move(p));
    }

  const DType pd = backend.param_dtype(), cd = backend.dtype();
  mixed_ = pd != cd;
  auto flat = [&](std::int64_t n, DType dtype) {
    return backend.allocate({1, std::max<std::int64_t>(n, 1), 1, 1}, dtype, Layout::nchw);
  };
  master_ = flat(param_elements, pd);
  grad_ = flat(param_elements, pd);
  momentum_ = flat(param_elements, pd);
  if (mixed_) {
    compute_ = flat(param_elements, cd);
    compute_grad_ = flat(param_elements, cd);
  }
  buffer_storage_ = flat(buffer_elements, pd);
  accumulators_ = flat(accumulator_elements, pd);

  std::int64_t p_off = 0, b_off = 0, a_off = 0;
  for (auto& p : pending) {
    std::vector<Tensor> layer_params, layer_grads, layer_buffers;
    for (const auto& spec : p.params) {
      // Convolution filters take the backend's activation layout (KRSC for NHWC backends), 1x1 filters included:
      // their bytes are the same either way, but cuDNN finds no NHWC algorithm for a filter described as NCHW.
      const Layout layout = spec.kind == ParamKind::conv_weight ? backend.layout() : Layout::nchw;
      ParamEntry e{p.layer->name() + "." + spec.name,
                   spec.kind,
                   spec.shape,
                   p_off,
                   master_.view(spec.shape, p_off, layout),
                   grad_.view(spec.shape, p_off, layout),
                   momentum_.view(spec.shape, p_off, layout),
                   {},
                   {},
                   {},
                   {}};
      const bool compute_copy = mixed_ && in_compute_dtype(spec.kind);
      e.compute = compute_copy ? compute_.view(spec.shape, p_off, layout) : e.master.view();
      e.compute_grad = compute_copy ? compute_grad_.view(spec.shape, p_off, layout) : e.grad.view();
      backend.copy(initial_values(spec, e.name, seed), e.master);
      if (compute_copy) backend.copy(e.master, e.compute);
      layer_params.push_back(e.compute.view());
      layer_grads.push_back(e.compute_grad.view());
      append_segment(decay_segments_, p_off, spec.shape.count(), is_decayed(spec.kind));
      if (compute_copy) append_segment(compute_segments_, p_off, spec.shape.count(), false);
      p_off += aligned(spec.shape.count());
      params_.push_back(std::move(e));
    }
    // BatchNorm's buffers are running mean and variance, then the step sums of both: each running statistic sits at
    // the offset of its sum when both flat buffers are equally far at the layer's start.
    const bool batchnorm = dynamic_cast<BatchNorm*>(p.layer) != nullptr;
    if (!p.buffers.empty() && (!batchnorm || b_off != a_off)) flat_statistics_ = false;
    for (const auto& spec : p.buffers) {
      Tensor view =
          spec.step_accumulator ? accumulators_.view(spec.shape, a_off) : buffer_storage_.view(spec.shape, b_off);
      (spec.step_accumulator ? a_off : b_off) += spec.shape.count();
      backend.fill(view, spec.initial_value);
      if (!spec.step_accumulator) buffers_.push_back({p.layer->name() + "." + spec.name, spec.shape, view.view()});
      layer_buffers.push_back(std::move(view));
    }
    p.layer->bind(std::move(layer_params), std::move(layer_grads), std::move(layer_buffers));
    if (auto* bn = dynamic_cast<BatchNorm*>(p.layer)) batchnorms_.push_back(bn);
  }
  if (b_off != a_off) flat_statistics_ = false;
  param_gathered_.assign(params_.size(), 0);
}

std::int64_t ParamStore::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : params_) n += p.shape.count();
  return n;
}

void ParamStore::enable_second_moment() {
  if (has_second_moment()) return;
  second_moment_ = backend_.allocate(master_.shape(), master_.dtype(), Layout::nchw);
  backend_.fill(second_moment_, 0.0);
  for (auto& p : params_) p.second_moment = second_moment_.view(p.shape, p.offset, p.master.layout());
}

void ParamStore::enable_ema() {
  if (has_ema()) return;
  ema_ = backend_.allocate(master_.shape(), master_.dtype(), Layout::nchw);
  backend_.copy(master_, ema_);
  for (auto& p : params_) p.ema = ema_.view(p.shape, p.offset, p.master.layout());
}

void ParamStore::swap_weights_and_ema() {
  if (!has_ema()) return;
  Tensor held = backend_.allocate(master_.shape(), master_.dtype(), Layout::nchw);
  backend_.copy(master_, held);
  backend_.copy(ema_, master_);
  backend_.copy(held, ema_);
  refresh_compute_weights();
}

void ParamStore::zero_grad() {
  backend_.fill(grad_, 0.0);
  if (mixed_) backend_.fill(compute_grad_, 0.0);
  grads_gathered_ = false;
  param_gathered_.assign(params_.size(), 0);
}

void ParamStore::gather_compute_grads() {
  if (!mixed_ || grads_gathered_) return;
  gather_compute_grads(0, master_.count());
  grads_gathered_ = true;
}

void ParamStore::gather_compute_grads(std::int64_t begin, std::int64_t end) {
  if (!mixed_ || grads_gathered_) return;
  std::vector<FlatSegment> segments;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    ParamEntry& p = params_[i];
    if (p.offset < begin || p.offset >= end || param_gathered_[i]) continue;
    if (in_compute_dtype(p.kind)) append_segment(segments, p.offset, p.shape.count(), false);
    param_gathered_[i] = 1;
  }
  if (!segments.empty()) backend_.copy_segments(compute_grad_, grad_, segments);
}

void ParamStore::refresh_compute_weights() {
  if (!mixed_ || compute_segments_.empty()) return;
  backend_.copy_segments(master_, compute_, compute_segments_);
}

void ParamStore::update_running_statistics(double momentum, double micro_batches) {
  if (batchnorms_.empty()) return;
  if (!flat_statistics_) {  // a layer other than BatchNorm keeps buffers: each BatchNorm on its own
    for (BatchNorm* bn : batchnorms_) bn->update_running_statistics(backend_, momentum, micro_batches);
    return;
  }
  // BatchNorm::update_running_statistics's operations, on all layers at once (one launch on a GPU).
  backend_.fold_running_statistics(buffer_storage_, accumulators_, momentum, micro_batches);
}

namespace {

Tensor to_host(Backend& backend, const Tensor& view) {
  Tensor host(view.shape(), backend.param_dtype() == DType::f64 ? DType::f64 : DType::f32, Layout::nchw);
  backend.copy(view, host);
  return host;
}

}  // namespace

ModelTensors collect_tensors(ParamStore& store) {
  Backend& backend = store.backend();
  ModelTensors out;
  for (auto& p : store.params()) {
    out.parameters.emplace(p.name, to_host(backend, p.master));
    out.momentum.emplace(p.name, to_host(backend, p.momentum));
    if (store.has_second_moment()) out.second_moment.emplace(p.name, to_host(backend, p.second_moment));
    if (store.has_ema()) out.ema.emplace(p.name, to_host(backend, p.ema));
  }
  for (auto& b : store.buffers()) out.buffers.emplace(b.name, to_host(backend, b.value));
  return out;
}

void assign_tensors(ParamStore& store, const ModelTensors& tensors, const std::string& source) {
  // The messages are the checkpoint reader's own (h5::where's "file F, group G" form), as before the split.
  const auto require = [&](const NamedTensors& group, const char* group_name, const std::string& name,
                           const Shape& shape) {
    const auto it = group.find(name);
    const std::string where = "file " + source + ", group " + group_name + "/" + name;
    CBEDNET_REQUIRE(it != group.end(), IoError, where, ": missing (the checkpoint does not match this model)");
    CBEDNET_REQUIRE(it->second.shape() == shape, IoError, where, ": shape ", it->second.shape().str(),
                    " does not match the model's ", shape.str());
  };
  for (const auto& p : store.params()) {
    require(tensors.parameters, "parameters", p.name, p.shape);
    require(tensors.momentum, "momentum", p.name, p.shape);
    if (store.has_second_moment()) require(tensors.second_moment, "second_moment", p.name, p.shape);
    if (store.has_ema()) require(tensors.ema, "ema", p.name, p.shape);
  }
  for (const auto& b : store.buffers()) require(tensors.buffers, "buffers", b.name, b.shape);
  Backend& backend = store.backend();
  for (auto& p : store.params()) {
    backend.copy(tensors.parameters.at(p.name), p.master);
    backend.copy(tensors.momentum.at(p.name), p.momentum);
    if (store.has_second_moment()) backend.copy(tensors.second_moment.at(p.name), p.second_moment);
    if (store.has_ema()) backend.copy(tensors.ema.at(p.name), p.ema);
  }
  for (auto& b : store.buffers()) backend.copy(tensors.buffers.at(b.name), b.value);
  store.refresh_compute_weights();
}

}  // namespace cbednet
