#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "interop/onnx/onnx_model.hpp"
#include "interop/onnx/onnx_names.hpp"
#include "interop/onnx/resnet_layout.hpp"

namespace cbednet::interop {

namespace {

// Oldest opset accepted: torch.onnx.export's torchvision ResNets use opset 11 and later; the operators read here
// (Conv, BatchNormalization, MaxPool, GlobalAveragePool, ReduceMean, Flatten, Reshape, Gemm) mean the same since.
constexpr std::int64_t oldest_opset = 11;

// A convolution with what follows it that CBEDNet folds into one unit: a BatchNormalization (absent when batch
// norm was folded into the convolution's bias).
struct ParsedConv {
  std::string node;  // the Conv node's name (for messages)
  std::vector<float> weight;
  std::vector<std::int64_t> dims;  // [K, C, R, S]
  std::vector<float> bias;         // empty: none
  bool has_bn = false;
  std::vector<float> gamma, beta, mean, var;
  double epsilon = 1e-5;
  int stride = 1, pad = 0;
  std::string output;  // value after the batch norm (or the convolution)
};

struct ParsedBlock {
  std::vector<ParsedConv> main;
  std::optional<ParsedConv> shortcut;
  std::string add_node;
};

class GraphReader {
 public:
  GraphReader(const onnx::ModelProto& model, std::string path) : graph_(model.graph()), path_(std::move(path)) {
    for (const auto& t : graph_.initializer()) constants_[t.name()] = &t;
    for (int i = 0; i < graph_.node_size(); ++i) {
      const auto& n = graph_.node(i);
      if (n.op_type() == "Constant") {
        for (const auto& a : n.attribute())
          if (a.name() == "value" && n.output_size() == 1) constants_[n.output(0)] = &a.t();
        continue;
      }
      for (const auto& in : n.input()) consumers_[in].push_back(&n);
    }
  }

  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& why) const {
    throw_error<InvalidArgument>("import ", path_, ": node '", n.name(), "' (", n.op_type(), "): ", why);
  }
  [[noreturn]] void fail(const std::string& why) const { throw_error<InvalidArgument>("import ", path_, ": ", why); }

  const std::vector<const onnx::NodeProto*>& consumers(const std::string& value) const {
    static const std::vector<const onnx::NodeProto*> none;
    const auto it = consumers_.find(value);
    return it == consumers_.end() ? none : it->second;
  }
  // The one node reading `value`; `after` names what produced it, for the message.
  const onnx::NodeProto& only_consumer(const std::string& value, const std::string& after) const {
    const auto& c = consumers(value);
    if (c.empty()) fail("the graph ends after " + after + " (value '" + value + "'): expected more of a ResNet");
    if (c.size() > 1)
      fail(*c[1], "value '" + value + "' of " + after + " feeds " + std::to_string(c.size()) +
                      " nodes; CBEDNet's ResNets branch only at a residual block's input");
    return *c[0];
  }

  std::vector<float> tensor(const onnx::NodeProto& n, int input, std::vector<std::int64_t>* dims = nullptr) const {
    if (input >= n.input_size() || n.input(input).empty()) fail(n, "input " + std::to_string(input) + " is missing");
    const auto it = constants_.find(n.input(input));
    if (it == constants_.end())
      fail(n, "input '" + n.input(input) + "' is not an initializer or constant (missing initializer)");
    const onnx::TensorProto& t = *it->second;
    if (t.data_location() == onnx::TensorProto::EXTERNAL) fail(n, "tensor '" + t.name() + "' has external data");
    std::int64_t count = 1;
    for (const auto d : t.dims()) count *= d;
    if (dims) dims->assign(t.dims().begin(), t.dims().end());
    std::vector<float> out;
    if (t.data_type() == onnx::TensorProto::FLOAT) {
      if (!t.raw_data().empty()) {
        if (t.raw_data().size() != static_cast<std::size_t>(count) * sizeof(float))
          fail(n, "tensor '" + t.name() + "' holds " + std::to_string(t.raw_data().size()) + " bytes for " +
                      std::to_string(count) + " floats");
        out.resize(static_cast<std::size_t>(count));
        std::memcpy(out.data(), t.raw_data().data(), t.raw_data().size());
      } else {
        out.assign(t.float_data().begin(), t.float_data().end());
      }
    } else if (t.data_type() == onnx::TensorProto::INT64) {  // Reshape's target shape
      if (!t.raw_data().empty()) {
        std::vector<std::int64_t> v(t.raw_data().size() / sizeof(std::int64_t));
        std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(std::int64_t));
        for (const auto x : v) out.push_back(static_cast<float>(x));
      } else {
        for (const auto x : t.int64_data()) out.push_back(static_cast<float>(x));
      }
    } else {
      fail(n, "tensor '" + t.name() + "' has ONNX data type " + std::to_string(t.data_type()) +
                  "; only float32 weights are read");
    }
    if (static_cast<std::int64_t>(out.size()) != count)
      fail(n, "tensor '" + t.name() + "' holds " + std::to_string(out.size()) + " values for its shape of " +
                  std::to_string(count));
    return out;
  }

  static const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
    for (const auto& a : n.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  std::vector<std::int64_t> ints(const onnx::NodeProto& n, const std::string& name,
                                 std::vector<std::int64_t> fallback) const {
    const auto* a = attribute(n, name);
    return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : fallback;
  }
  std::int64_t integer(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) const {
    const auto* a = attribute(n, name);
    return a ? a->i() : fallback;
  }
  float real(const onnx::NodeProto& n, const std::string& name, float fallback) const {
    const auto* a = attribute(n, name);
    return a ? a->f() : fallback;
  }
  // Square, symmetric kernel attributes: the one value, or a failure naming the node.
  int square(const onnx::NodeProto& n, const std::string& name, std::vector<std::int64_t> values) const {
    if (values.empty() || std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end()) {
      std::ostringstream text;
      for (const auto v : values) text << v << ' ';
      fail(n, name + " [ " + text.str() + "] is not square and symmetric, as CBEDNet's layers are");
    }
    return static_cast<int>(values[0]);
  }

  ParsedConv conv(const onnx::NodeProto& n) const {
    if (n.op_type() != "Conv") fail(n, "expected a Conv here");
    ParsedConv c;
    c.node = n.name();
    c.weight = tensor(n, 1, &c.dims);
    if (c.dims.size() != 4) fail(n, "the weight is not 4-d (only 2-d convolutions)");
    if (n.input_size() > 2 && !n.input(2).empty()) c.bias = tensor(n, 2);
    if (!c.bias.empty() && static_cast<std::int64_t>(c.bias.size()) != c.dims[0])
      fail(n, "bias of " + std::to_string(c.bias.size()) + " for " + std::to_string(c.dims[0]) + " output channels");
    if (integer(n, "group", 1) != 1) fail(n, "grouped convolution (CBEDNet's have group 1)");
    for (const auto d : ints(n, "dilations", {1, 1}))
      if (d != 1) fail(n, "dilated convolution (CBEDNet's have dilation 1)");
    if (const auto* a = attribute(n, "auto_pad"); a && a->s() != "NOTSET") fail(n, "auto_pad " + a->s());
    if (c.dims[2] != c.dims[3]) fail(n, "non-square kernel");
    square(n, "kernel_shape", ints(n, "kernel_shape", {c.dims[2], c.dims[3]}));
    c.stride = square(n, "strides", ints(n, "strides", {1, 1}));
    c.pad = square(n, "pads", ints(n, "pads", {0, 0, 0, 0}));
    c.output = n.output(0);
    const auto& next = consumers(c.output);
    if (next.size() == 1 && next[0]->op_type() == "BatchNormalization") {
      const auto& bn = *next[0];
      c.has_bn = true;
      c.gamma = tensor(bn, 1);
      c.beta = tensor(bn, 2);
      c.mean = tensor(bn, 3);
      c.var = tensor(bn, 4);
      c.epsilon = real(bn, "epsilon", 1e-5F);
      if (integer(bn, "training_mode", 0) != 0) fail(bn, "training_mode is set (export in inference mode)");
      for (const auto* v : {&c.gamma, &c.beta, &c.mean, &c.var})
        if (static_cast<std::int64_t>(v->size()) != c.dims[0])
          fail(bn, "its parameters have " + std::to_string(v->size()) + " values for the convolution's " +
                       std::to_string(c.dims[0]) + " channels");
      if (bn.output_size() < 1) fail(bn, "no output");
      c.output = bn.output(0);
    }
    return c;
  }

  // A residual block from its input value: the main branch's convolutions (ReLU between them) up to an Add whose
  // other input is the block input or a projection (one convolution of it); then a ReLU. Returns the block and sets
  // `x` to its output.
  ParsedBlock block(std::string& x) const {
    const auto& readers = consumers(x);
    std::vector<std::vector<ParsedConv>> chains;
    std::vector<const onnx::NodeProto*> adds;
    for (const auto* n : readers) {
      if (n->op_type() == "Add") continue;  // the identity shortcut
      std::vector<ParsedConv> chain{conv(*n)};
      while (true) {
        const auto& next = only_consumer(chain.back().output, "node '" + chain.back().node + "'");
        if (next.op_type() == "Add") {
          adds.push_back(&next);
          break;
        }
        if (next.op_type() != "Relu") fail(next, "expected Relu or Add after a convolution of a residual block");
        chain.push_back(conv(only_consumer(next.output(0), "node '" + next.name() + "'")));
      }
      chains.push_back(std::move(chain));
    }
    if (chains.empty() || chains.size() > 2) {
      const auto* first = readers.empty() ? nullptr : readers[0];
      if (first) fail(*first, "expected a residual block (one or two convolutions reading value '" + x + "')");
      fail("value '" + x + "' is read by nothing: the graph ends before the head (GlobalAveragePool, Gemm)");
    }
    const onnx::NodeProto& add = *adds[0];
    if (chains.size() == 2 && adds[1] != adds[0]) fail(*adds[1], "the two branches of a block end in different Adds");
    ParsedBlock b;
    b.add_node = add.name();
    if (chains.size() == 2) {
      std::sort(chains.begin(), chains.end(), [](const auto& a, const auto& c) { return a.size() > c.size(); });
      if (chains[1].size() != 1) fail(add, "the shortcut branch has more than one convolution");
      b.shortcut = std::move(chains[1][0]);
    } else {
      const bool identity = add.input_size() == 2 && (add.input(0) == x || add.input(1) == x);
      if (!identity) fail(add, "one input must be the block's input '" + x + "' (identity shortcut)");
    }
    b.main = std::move(chains[0]);
    if (b.main.size() != 2 && b.main.size() != 3)
      fail(add, "the main branch has " + std::to_string(b.main.size()) +
                    " convolutions; basic blocks have 2 and bottlenecks 3");
    const auto& relu = only_consumer(add.output(0), "node '" + add.name() + "'");
    if (relu.op_type() != "Relu") fail(relu, "expected Relu after a residual block's Add");
    x = relu.output(0);
    return b;
  }

  const onnx::GraphProto& graph() const { return graph_; }
  const std::string& path() const { return path_; }

 private:
  const onnx::GraphProto& graph_;
  std::string path_;
  std::map<std::string, const onnx::TensorProto*> constants_;
  std::map<std::string, std::vector<const onnx::NodeProto*>> consumers_;
};

onnx::ModelProto read_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CBEDNET_REQUIRE(in.good(), IoError, "import ", path, ": cannot open the file");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  onnx::ModelProto model;
  CBEDNET_REQUIRE(!data.empty() && model.ParseFromString(data) && model.has_graph() && model.graph().node_size() > 0,
                  InvalidArgument, "import ", path, ": not an ONNX model (", data.size(),
                  " bytes that do not parse as an ONNX ModelProto with a graph; truncated or another format?)");
  std::int64_t opset = -1;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  CBEDNET_REQUIRE(opset >= oldest_opset, InvalidArgument, "import ", path, ": opset ", opset,
                  " of the default domain is older than the oldest supported, ", oldest_opset);
  return model;
}

std::string metadata(const onnx::ModelProto& model, const std::string& key) {
  for (const auto& p : model.metadata_props())
    if (p.key() == key) return p.value();
  return {};
}

Tensor host_tensor(const Shape& shape, const std::vector<float>& values) {
  Tensor t(shape, DType::f32);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

// The graph's parsed units against the layout CBEDNet builds for the inferred spec, then the tensors by name.
void put_conv(ModelTensors& out, const GraphReader& g, const ParsedConv& c, const ConvBn& u) {
  const auto node = [&]() -> const onnx::NodeProto& {
    for (const auto& n : g.graph().node())
      if (n.name() == c.node && n.op_type() == "Conv") return n;
    g.fail("node '" + c.node + "' vanished");
  };
  const std::vector<std::int64_t> want{u.out_channels, u.in_channels, u.kernel, u.kernel};
  if (c.dims != want || c.stride != u.stride || c.pad != u.pad) {
    std::ostringstream why;
    why << "weight [" << c.dims[0] << "," << c.dims[1] << "," << c.dims[2] << "," << c.dims[3] << "] stride "
        << c.stride << " pad " << c.pad << " does not fit CBEDNet's " << u.conv << ": [" << want[0] << "," << want[1]
        << "," << want[2] << "," << want[3] << "] stride " << u.stride << " pad " << u.pad;
    g.fail(node(), why.str());
  }
  const std::int64_t K = u.out_channels;
  const Shape v{1, K, 1, 1};
  out.parameters.emplace(u.conv + ".weight", host_tensor(Shape{want[0], want[1], want[2], want[3]}, c.weight));
  std::vector<float> gamma(K, 1.0F), beta(K, 0.0F), mean(K, 0.0F), var(K, static_cast<float>(1.0 - batchnorm_epsilon));
  if (c.has_bn) {
    gamma = c.gamma;
    beta = c.beta;
    mean = c.mean;
    var = c.var;
    // CBEDNet's epsilon is fixed: the same denominator sqrt(var + eps) with its own epsilon.
    if (c.epsilon != static_cast<float>(batchnorm_epsilon))
      for (auto& x : var) x = static_cast<float>(x + c.epsilon - batchnorm_epsilon);
  }
  if (!c.bias.empty()) {
    // conv(x) + b then BN(mean) is BN(mean - b) of conv(x); without BN, gamma 1 and var 1 - eps make BN the bias.
    for (std::int64_t k = 0; k < K; ++k) {
      if (c.has_bn)
        mean[k] -= c.bias[k];
      else
        beta[k] = c.bias[k];
    }
  }
  out.parameters.emplace(u.bn + ".gamma", host_tensor(v, gamma));
  out.parameters.emplace(u.bn + ".beta", host_tensor(v, beta));
  out.buffers.emplace(u.bn + ".running_mean", host_tensor(v, mean));
  out.buffers.emplace(u.bn + ".running_var", host_tensor(v, var));
}

std::string arch_name(const ResNetSpec& spec, const std::string& recorded) {
  for (const std::string& name : {recorded, std::string("resnet18"), std::string("resnet34"), std::string("resnet50"),
                                  std::string("resnet101"), std::string("resnet152")}) {
    if (name.empty()) continue;
    try {
      const auto named = resnet_spec(name);
      if (named.block == spec.block && named.stage_blocks == spec.stage_blocks) return name;
    } catch (const InvalidArgument&) {
    }
  }
  std::ostringstream text;
  text << (spec.block == ResidualBlock::Kind::basic ? "basic:" : "bottleneck:");
  for (std::size_t i = 0; i < spec.stage_blocks.size(); ++i) text << (i ? "," : "") << spec.stage_blocks[i];
  return text.str();
}

// The value the network reads: after CBEDNet's own preprocessing (its export), else the graph's first input that is
// not an initializer. Fills the preprocessing and configuration a CBEDNet export recorded.
std::string network_input(const onnx::ModelProto& model, const GraphReader& g, ImportedOnnx& result) {
  const std::string recorded_preprocessing = metadata(model, onnx_names::meta_preprocessing);
  if (!recorded_preprocessing.empty()) {
    result.preprocess = io::Preprocess::parse(recorded_preprocessing);
    result.config = metadata(model, onnx_names::meta_config);
    return onnx_names::preprocessed;
  }
  std::set<std::string> initializers;
  for (const auto& t : model.graph().initializer()) initializers.insert(t.name());
  for (const auto& in : model.graph().input())
    if (!initializers.count(in.name())) return in.name();
  g.fail("the graph has no input that is not an initializer");
}

// Stem: Conv (+BN) + Relu (+ MaxPool 3x3/2 pad 1). Sets the stem kind and moves x past it.
ParsedConv parse_stem(const GraphReader& g, std::string& x, ResNetSpec& spec) {
  const auto& first = g.consumers(x);
  if (first.size() != 1) g.fail("the input '" + x + "' must feed exactly one node (the stem's Conv)");
  ParsedConv stem = g.conv(*first[0]);
  const auto& relu = g.only_consumer(stem.output, "the stem's convolution");
  if (relu.op_type() != "Relu") g.fail(relu, "expected Relu after the stem's convolution");
  x = relu.output(0);
  spec.stem = StemKind::small;
  if (const auto& next = g.consumers(x); next.size() == 1 && next[0]->op_type() == "MaxPool") {
    const auto& pool = *next[0];
    if (g.square(pool, "kernel_shape", g.ints(pool, "kernel_shape", {})) != 3 ||
        g.square(pool, "strides", g.ints(pool, "strides", {1, 1})) != 2 ||
        g.square(pool, "pads", g.ints(pool, "pads", {0, 0, 0, 0})) != 1 || g.integer(pool, "ceil_mode", 0) != 0)
      g.fail(pool, "CBEDNet's stem pools 3x3, stride 2, pad 1, floor mode");
    spec.stem = StemKind::imagenet;
    x = pool.output(0);
  }
  return stem;
}

// Residual blocks until the global pool; a block with a strided convolution starts a stage. Sets the block kind and
// the stage block counts.
std::vector<ParsedBlock> parse_blocks(const GraphReader& g, std::string& x, ResNetSpec& spec) {
  std::vector<ParsedBlock> blocks;
  const auto is_head = [&](const std::string& value) {
    const auto& c = g.consumers(value);
    return c.size() == 1 && (c[0]->op_type() == "GlobalAveragePool" || c[0]->op_type() == "ReduceMean");
  };
  spec.stage_blocks.clear();
  while (!is_head(x)) {
    blocks.push_back(g.block(x));
    const auto& b = blocks.back();
    const bool strided = std::any_of(b.main.begin(), b.main.end(), [](const auto& c) { return c.stride != 1; });
    if (spec.stage_blocks.empty() || strided) spec.stage_blocks.push_back(0);
    ++spec.stage_blocks.back();
  }
  if (blocks.empty()) g.fail("no residual block between the stem and the head");
  spec.block = blocks[0].main.size() == 2 ? ResidualBlock::Kind::basic : ResidualBlock::Kind::bottleneck;
  for (const auto& b : blocks)
    if (b.main.size() != blocks[0].main.size())
      g.fail("block ending at node '" + b.add_node + "' mixes basic and bottleneck blocks, which CBEDNet does not");
  return blocks;
}

struct ParsedHead {
  const onnx::NodeProto* gemm = nullptr;
  std::vector<float> weight;       // [K, C]
  std::vector<std::int64_t> dims;  // K, C
  std::vector<float> bias;
};

// Head: global average pool (or ReduceMean over 2, 3), Flatten/Reshape/Squeeze, Gemm, optionally a Softmax.
ParsedHead parse_head(const GraphReader& g, std::string x, bool cbednet_export) {
  const auto& pool = *g.consumers(x)[0];
  if (pool.op_type() == "ReduceMean") {
    auto axes = g.ints(pool, "axes", {});
    if (axes.empty() && pool.input_size() > 1)
      for (const float a : g.tensor(pool, 1)) axes.push_back(static_cast<std::int64_t>(a));
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<std::int64_t>{2, 3} && axes != std::vector<std::int64_t>{-2, -1})
      g.fail(pool, "only a mean over the spatial axes (2, 3) is a global average pool");
  }
  x = pool.output(0);
  const onnx::NodeProto* next = &g.only_consumer(x, "the global average pool");
  if (next->op_type() == "Flatten" || next->op_type() == "Reshape" || next->op_type() == "Squeeze") {
    if (next->op_type() == "Flatten" && g.integer(*next, "axis", 1) != 1) g.fail(*next, "flatten axis must be 1");
    x = next->output(0);
    next = &g.only_consumer(x, "node '" + next->name() + "'");
  }
  ParsedHead h;
  h.gemm = next;
  const auto& gemm = *next;
  if (gemm.op_type() != "Gemm") g.fail(gemm, "expected Gemm (the fully connected layer) after the pooling");
  if (g.real(gemm, "alpha", 1.0F) != 1.0F || g.real(gemm, "beta", 1.0F) != 1.0F || g.integer(gemm, "transA", 0) != 0)
    g.fail(gemm, "only alpha = beta = 1 and transA = 0");
  h.weight = g.tensor(gemm, 1, &h.dims);
  if (h.dims.size() != 2) g.fail(gemm, "the weight is not 2-d");
  if (g.integer(gemm, "transB", 0) == 0) {  // B is [C, K]: store [K, C]
    std::vector<float> t(h.weight.size());
    for (std::int64_t c = 0; c < h.dims[0]; ++c)
      for (std::int64_t k = 0; k < h.dims[1]; ++k) t[k * h.dims[0] + c] = h.weight[c * h.dims[1] + k];
    h.weight.swap(t);
    std::swap(h.dims[0], h.dims[1]);
  }
  h.bias.assign(static_cast<std::size_t>(h.dims[0]), 0.0F);
  if (gemm.input_size() > 2 && !gemm.input(2).empty()) h.bias = g.tensor(gemm, 2);
  if (static_cast<std::int64_t>(h.bias.size()) != h.dims[0])
    g.fail(gemm, "bias of " + std::to_string(h.bias.size()) + " for " + std::to_string(h.dims[0]) + " classes");
  if (h.dims[0] < 2) g.fail(gemm, "a classifier needs at least 2 classes, this one has " + std::to_string(h.dims[0]));
  for (const auto* after : g.consumers(gemm.output(0)))  // CBEDNet's --views random exports average three views
    if (after->op_type() != "Softmax" && !cbednet_export)
      g.fail(*after, "only a Softmax may follow the fully connected layer");
  return h;
}

// The network's H = W: given, else what a CBEDNet export recorded, else the graph input's fixed square shape.
std::int64_t network_input_size(const onnx::ModelProto& model, const GraphReader& g, std::int64_t given) {
  if (given > 0) return given;
  const std::string recorded = metadata(model, onnx_names::meta_input_size);
  if (!recorded.empty()) {
    const auto size = std::strtoll(recorded.c_str(), nullptr, 10);
    if (size <= 0) g.fail("metadata " + std::string(onnx_names::meta_input_size) + " '" + recorded + "' is no size");
    return size;
  }
  if (model.graph().input_size() > 0) {
    const auto& shape = model.graph().input(0).type().tensor_type().shape();
    if (shape.dim_size() == 4 && shape.dim(2).has_dim_value() && shape.dim(2).dim_value() > 0 &&
        shape.dim(2).dim_value() == shape.dim(3).dim_value())
      return shape.dim(2).dim_value();
  }
  g.fail("the input's height and width are not fixed numbers: give the input size");
}

}  // namespace

ImportedOnnx import_onnx(const std::string& path, std::int64_t input_size) {
  const onnx::ModelProto model = read_model(path);
  GraphReader g(model, path);
  ImportedOnnx result;
  ResNetSpec& spec = result.spec;
  std::string x = network_input(model, g, result);
  const ParsedConv stem = parse_stem(g, x, spec);
  const std::vector<ParsedBlock> blocks = parse_blocks(g, x, spec);
  const ParsedHead head = parse_head(g, x, !metadata(model, onnx_names::meta_preprocessing).empty());

  // The spec: the widths a CBEDNet export recorded, else CBEDNet's width rule from the stem's width.
  spec.in_channels = stem.dims[1];
  spec.base_width = stem.dims[0];
  spec.width_multiplier = 1.0;
  const std::string base_width = metadata(model, onnx_names::meta_base_width);
  const std::string multiplier = metadata(model, onnx_names::meta_width_multiplier);
  if (!base_width.empty() && !multiplier.empty()) {
    spec.base_width = std::strtoll(base_width.c_str(), nullptr, 10);
    spec.width_multiplier = std::strtod(multiplier.c_str(), nullptr);
    if (spec.base_width <= 0 || !(spec.width_multiplier > 0))
      g.fail("metadata width " + base_width + " x " + multiplier + " is not a width");
  }
  spec.classes = head.dims[0];
  spec.dropout = 0.0;
  spec.arch = arch_name(spec, metadata(model, onnx_names::meta_arch));
  spec.input_size = network_input_size(model, g, input_size);

  // The parsed units onto the layout CBEDNet builds for that spec, by name.
  const ResNetLayout layout = resnet_layout(spec);
  put_conv(result.tensors, g, stem, layout.stem);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    const auto& want = layout.blocks[i];
    if (b.shortcut.has_value() != want.shortcut.has_value())
      g.fail("block ending at node '" + b.add_node + "' has " + (b.shortcut ? "a projection" : "an identity") +
             " shortcut where CBEDNet's " + want.name + " has " + (want.shortcut ? "a projection" : "an identity"));
    for (std::size_t j = 0; j < b.main.size(); ++j) put_conv(result.tensors, g, b.main[j], want.main[j]);
    if (b.shortcut) put_conv(result.tensors, g, *b.shortcut, *want.shortcut);
  }
  if (head.dims[1] != layout.features)
    g.fail(*head.gemm,
           "takes " + std::to_string(head.dims[1]) + " features, the network gives " + std::to_string(layout.features));
  result.tensors.parameters.emplace(layout.fc + ".weight",
                                    host_tensor(Shape{head.dims[0], head.dims[1], 1, 1}, head.weight));
  result.tensors.parameters.emplace(layout.fc + ".bias", host_tensor(Shape{1, head.dims[0], 1, 1}, head.bias));
  for (const auto& [name, t] : result.tensors.parameters)
    result.tensors.momentum.emplace(name, Tensor(t.shape(), DType::f32));
  return result;
}

}  // namespace cbednet::interop
