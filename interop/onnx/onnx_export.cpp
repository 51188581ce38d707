#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <set>
#include <sstream>

#include "cbednet/build_info.hpp"
#include "core/model/folded_conv.hpp"
#include "core/train/run_log.hpp"
#include "interop/onnx/onnx_model.hpp"
#include "interop/onnx/onnx_names.hpp"
#include "interop/onnx/resnet_layout.hpp"

namespace cbednet::interop {

namespace {

std::vector<float> host_values(const Tensor& t, const std::string& name) {
  CBEDNET_REQUIRE(t.device() == Device::host && (t.dtype() == DType::f32 || t.dtype() == DType::f64), InvalidArgument,
                  "export: tensor ", name, " is ", t.describe(), ", expected f32 or f64 on the host");
  if (t.dtype() == DType::f32) return {t.data<float>(), t.data<float>() + t.count()};
  std::vector<float> out(static_cast<std::size_t>(t.count()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(t.data<double>()[i]);
  return out;
}

// Builds the graph node by node; every tensor of the checkpoint it takes is counted, so that one left over (a
// layer the layout does not know) is an error instead of a silently different network.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto& graph, const ModelTensors& tensors) : graph_(graph), tensors_(tensors) {}

  // The checkpoint's tensor `name` (group parameters or buffers) with the expected logical shape.
  std::vector<float> take(const NamedTensors& group, const std::string& name, const Shape& shape) {
    const auto it = group.find(name);
    CBEDNET_REQUIRE(it != group.end(), InvalidArgument, "export: the checkpoint has no tensor ", name);
    CBEDNET_REQUIRE(it->second.shape() == shape, InvalidArgument, "export: tensor ", name, " is ",
                    it->second.shape().str(), ", the model needs ", shape.str());
    used_.insert(name);
    return host_values(it->second, name);
  }
  std::vector<float> parameter(const std::string& name, const Shape& shape) {
    return take(tensors_.parameters, name, shape);
  }
  std::vector<float> buffer(const std::string& name, const Shape& shape) { return take(tensors_.buffers, name, shape); }

  void initializer(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<float>& values) {
    auto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (const auto d : dims) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));
  }
  void shape_initializer(const std::string& name, const std::vector<std::int64_t>& shape) {
    auto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(shape.size()));
    for (const auto d : shape) t->add_int64_data(d);
  }
  std::string scalar(const std::string& name, float value) {
    initializer(name, {}, {value});
    return name;
  }

  onnx::NodeProto& node(const std::string& op, const std::string& name, std::initializer_list<std::string> inputs,
                        const std::string& output) {
    auto* n = graph_.add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(output);
    return *n;
  }
  static void ints(onnx::NodeProto& n, const std::string& name, std::initializer_list<std::int64_t> values) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (const auto v : values) a->add_ints(v);
  }
  static void integer(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void real(onnx::NodeProto& n, const std::string& name, float value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }

  // Every parameter and buffer of the checkpoint was written.
  void require_all_used() const {
    for (const auto* group : {&tensors_.parameters, &tensors_.buffers})
      for (const auto& [name, t] : *group)
        CBEDNET_REQUIRE(used_.count(name) == 1, InvalidArgument, "export: the checkpoint's tensor ", name,
                        " has no place in the ResNet layout (a layer the exporter does not know)");
  }

 private:
  onnx::GraphProto& graph_;
  const ModelTensors& tensors_;
  std::set<std::string> used_;
};

// Preprocessing as operators, in io::transform_pixels' and io::normalise's order and arithmetic; with separate
// views (--views random) each projection then becomes a 1-channel sample, [N, 3, S, S] -> [3N, 1, S, S]. Returns
// the name of the preprocessed value.
std::string write_preprocessing(GraphWriter& g, const io::Preprocess& p, std::int64_t channels, std::int64_t size) {
  std::string x = onnx_names::input;
  if (p.log_scale) {
    // max(ln I, -17) for I > 0, else -17 (Where drops the -inf/NaN that Log gives for I <= 0); then (+17) x10.
    const auto floor = g.scalar("preprocess.log_floor", -17.0F);
    g.node("Greater", "preprocess.positive", {x, g.scalar("preprocess.zero", 0.0F)}, "preprocess.positive");
    g.node("Log", "preprocess.log", {x}, "preprocess.log");
    g.node("Max", "preprocess.log_clamped", {"preprocess.log", floor}, "preprocess.log_clamped");
    g.node("Where", "preprocess.log_or_floor", {"preprocess.positive", "preprocess.log_clamped", floor},
           "preprocess.log_or_floor");
    g.node("Add", "preprocess.log_shift", {"preprocess.log_or_floor", g.scalar("preprocess.log_offset", 17.0F)},
           "preprocess.log_shift");
    g.node("Mul", "preprocess.log_scale", {"preprocess.log_shift", g.scalar("preprocess.log_factor", 10.0F)},
           "preprocess.log_scaled");
    x = "preprocess.log_scaled";
  }
  if (p.downsample > 1) {
    auto& n = g.node("AveragePool", "preprocess.downsample", {x}, "preprocess.downsampled");
    GraphWriter::ints(n, "kernel_shape", {p.downsample, p.downsample});
    GraphWriter::ints(n, "strides", {p.downsample, p.downsample});
    x = "preprocess.downsampled";
  }
  if (!p.mean.empty()) {
    CBEDNET_REQUIRE(static_cast<std::int64_t>(p.mean.size()) == channels, InvalidArgument, "export: normalisation has ",
                    p.mean.size(), " channels, the model takes ", channels);
    std::vector<float> inverse;
    for (const float s : p.stddev) inverse.push_back(1.0F / s);  // as io::normalise
    g.initializer("preprocess.mean", {1, channels, 1, 1}, p.mean);
    g.initializer("preprocess.inverse_std", {1, channels, 1, 1}, inverse);
    g.node("Sub", "preprocess.centre", {x, "preprocess.mean"}, "preprocess.centred");
    g.node("Mul", "preprocess.normalise", {"preprocess.centred", "preprocess.inverse_std"}, "preprocess.normalised");
    x = "preprocess.normalised";
  }
  if (p.separate_views) {
    g.shape_initializer("preprocess.views_shape", {-1, 1, size, size});
    g.node("Reshape", "preprocess.views", {x, "preprocess.views_shape"}, "preprocess.views");
    x = "preprocess.views";
  }
  g.node("Identity", "preprocess.out", {x}, onnx_names::preprocessed);
  return onnx_names::preprocessed;
}

// Conv (+ BatchNormalization, or folded) (+ Relu). Returns the output's name.
std::string write_conv_bn(GraphWriter& g, const ConvBn& u, const std::string& input, bool relu, bool fold) {
  const Shape w_shape{u.out_channels, u.in_channels, u.kernel, u.kernel};
  const Shape v_shape{1, u.out_channels, 1, 1};
  auto weight = g.parameter(u.conv + ".weight", w_shape);
  const auto gamma = g.parameter(u.bn + ".gamma", v_shape), beta = g.parameter(u.bn + ".beta", v_shape);
  const auto mean = g.buffer(u.bn + ".running_mean", v_shape), var = g.buffer(u.bn + ".running_var", v_shape);
  const auto K = static_cast<std::size_t>(u.out_channels);
  const std::vector<std::int64_t> w_dims{u.out_channels, u.in_channels, u.kernel, u.kernel}, v_dims{u.out_channels};
  std::string out;
  if (fold) {
    // y = gamma (conv(x) - mean) / sqrt(var + eps) + beta = conv_{w * s}(x) + (beta - mean * s), s per channel:
    // the arithmetic of inference's fold (core/model/folded_conv.hpp).
    std::vector<float> bias(K, 0.0F);
    fold_batch_norm(std::span<float>(weight), std::span<float>(bias), std::span<const float>(gamma),
                    std::span<const float>(beta), std::span<const float>(mean), std::span<const float>(var),
                    batchnorm_epsilon);
    g.initializer(u.conv + ".weight", w_dims, weight);
    g.initializer(u.conv + ".bias", v_dims, bias);
    auto& n = g.node("Conv", u.conv, {input, u.conv + ".weight", u.conv + ".bias"}, u.conv);
    GraphWriter::ints(n, "kernel_shape", {u.kernel, u.kernel});
    GraphWriter::ints(n, "strides", {u.stride, u.stride});
    GraphWriter::ints(n, "pads", {u.pad, u.pad, u.pad, u.pad});
    out = u.conv;
  } else {
    g.initializer(u.conv + ".weight", w_dims, weight);
    g.initializer(u.bn + ".gamma", v_dims, gamma);
    g.initializer(u.bn + ".beta", v_dims, beta);
    g.initializer(u.bn + ".running_mean", v_dims, mean);
    g.initializer(u.bn + ".running_var", v_dims, var);
    auto& c = g.node("Conv", u.conv, {input, u.conv + ".weight"}, u.conv);
    GraphWriter::ints(c, "kernel_shape", {u.kernel, u.kernel});
    GraphWriter::ints(c, "strides", {u.stride, u.stride});
    GraphWriter::ints(c, "pads", {u.pad, u.pad, u.pad, u.pad});
    auto& b = g.node("BatchNormalization", u.bn,
                     {u.conv, u.bn + ".gamma", u.bn + ".beta", u.bn + ".running_mean", u.bn + ".running_var"}, u.bn);
    GraphWriter::real(b, "epsilon", static_cast<float>(batchnorm_epsilon));
    out = u.bn;
  }
  if (!relu) return out;
  g.node("Relu", out + ".relu", {out}, out + ".relu");
  return out + ".relu";
}

void write_network(GraphWriter& g, const ResNetSpec& spec, const std::string& input, bool fold, bool views) {
  const ResNetLayout layout = resnet_layout(spec);
  std::string x = write_conv_bn(g, layout.stem, input, true, fold);
  if (layout.stem_pool) {
    auto& n = g.node("MaxPool", "stem.pool", {x}, "stem.pool");
    GraphWriter::ints(n, "kernel_shape", {3, 3});
    GraphWriter::ints(n, "strides", {2, 2});
    GraphWriter::ints(n, "pads", {1, 1, 1, 1});
    x = "stem.pool";
  }
  for (const auto& block : layout.blocks) {
    const std::string shortcut = block.shortcut ? write_conv_bn(g, *block.shortcut, x, false, fold) : x;
    std::string h = x;
    for (std::size_t i = 0; i < block.main.size(); ++i)
      h = write_conv_bn(g, block.main[i], h, i + 1 < block.main.size(), fold);
    g.node("Add", block.name + ".add", {h, shortcut}, block.name + ".add");
    g.node("Relu", block.name + ".relu", {block.name + ".add"}, block.name + ".out");
    x = block.name + ".out";
  }
  g.node("GlobalAveragePool", "head.pool", {x}, "head.pool");
  auto& flatten = g.node("Flatten", "head.flatten", {"head.pool"}, "head.features");
  GraphWriter::integer(flatten, "axis", 1);
  const auto weight = g.parameter(layout.fc + ".weight", Shape{spec.classes, layout.features, 1, 1});
  const auto bias = g.parameter(layout.fc + ".bias", Shape{1, spec.classes, 1, 1});
  g.initializer(layout.fc + ".weight", {spec.classes, layout.features}, weight);
  g.initializer(layout.fc + ".bias", {spec.classes}, bias);
  const std::string fc_out = views ? "head.view_logits" : onnx_names::logits;
  auto& gemm = g.node("Gemm", layout.fc, {"head.features", layout.fc + ".weight", layout.fc + ".bias"}, fc_out);
  GraphWriter::integer(gemm, "transB", 1);
  if (!views) {
    auto& softmax = g.node("Softmax", "head.softmax", {onnx_names::logits}, onnx_names::probabilities);
    GraphWriter::integer(softmax, "axis", 1);
    return;
  }
  // --views random: the softmax averaged over a sample's three projections (as evaluate and predict do); logits
  // are its logarithm, so that their softmax is that average.
  g.shape_initializer("head.views_shape", {-1, 3, spec.classes});
  g.node("Reshape", "head.views", {fc_out, "head.views_shape"}, "head.views");
  auto& softmax = g.node("Softmax", "head.softmax", {"head.views"}, "head.view_probabilities");
  GraphWriter::integer(softmax, "axis", 2);
  auto& mean = g.node("ReduceMean", "head.view_mean", {"head.view_probabilities"}, onnx_names::probabilities);
  GraphWriter::ints(mean, "axes", {1});
  GraphWriter::integer(mean, "keepdims", 0);
  g.node("Log", "head.log", {onnx_names::probabilities}, onnx_names::logits);
}

void value_info(onnx::ValueInfoProto& v, const std::string& name, std::initializer_list<std::int64_t> dims) {
  v.set_name(name);
  auto* tensor = v.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tensor->mutable_shape();
  bool first = true;
  for (const auto d : dims) {
    auto* dim = shape->add_dim();
    if (first)
      dim->set_dim_param("N");  // any batch size
    else
      dim->set_dim_value(d);
    first = false;
  }
}

void metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  auto* p = model.add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

}  // namespace

void export_onnx(const std::string& path, const ResNetSpec& spec, const ModelTensors& tensors,
                 const io::Preprocess& preprocess, const OnnxExportInfo& info, const OnnxExportOptions& options) {
  CBEDNET_REQUIRE(
      spec.in_channels == preprocess.channels(), InvalidArgument, "export: the model takes ", spec.in_channels,
      " channel(s), its preprocessing gives ", preprocess.channels(),
      preprocess.separate_views ? " (one projection per sample, --views random)" : " (stacked projections)");
  const std::int64_t raw_channels = preprocess.separate_views ? 3 : spec.in_channels;
  CBEDNET_REQUIRE(spec.dropout >= 0.0, InvalidArgument, "export: invalid dropout ", spec.dropout);
  const std::int64_t raw_size = spec.input_size * preprocess.downsample;
  preprocess.validate(static_cast<int>(raw_size));

  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("CBEDNet");
  model.set_producer_version(build_info::version);
  model.set_model_version(1);
  model.set_doc_string("CBEDNet " + spec.arch + " exported from " + info.checkpoint +
                       ": input cbed = raw CBED intensities, outputs logits and probabilities over " +
                       std::to_string(spec.classes) + " classes (class i is space group i + 1)");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(onnx_opset);

  auto& graph = *model.mutable_graph();
  graph.set_name("cbednet_" + spec.arch);
  value_info(*graph.add_input(), onnx_names::input, {0, raw_channels, raw_size, raw_size});
  value_info(*graph.add_output(), onnx_names::logits, {0, spec.classes});
  value_info(*graph.add_output(), onnx_names::probabilities, {0, spec.classes});
  GraphWriter writer(graph, tensors);
  const std::string x = write_preprocessing(writer, preprocess, spec.in_channels, spec.input_size);
  // dropout is the identity in inference
  write_network(writer, spec, x, options.fold_batchnorm, preprocess.separate_views);
  writer.require_all_used();

  std::ostringstream classes;
  for (std::int64_t c = 0; c < spec.classes; ++c) classes << (c ? "," : "") << c << ":" << c + 1;
  metadata(model, onnx_names::meta_version, build_info::version);
  metadata(model, onnx_names::meta_commit, build_info::git_commit);
  metadata(model, onnx_names::meta_arch, spec.arch);
  metadata(model, onnx_names::meta_preprocessing, preprocess.describe());
  metadata(model, onnx_names::meta_input_size, std::to_string(spec.input_size));
  metadata(model, onnx_names::meta_class_map, classes.str());
  std::ostringstream multiplier;
  multiplier.precision(17);
  multiplier << spec.width_multiplier;
  metadata(model, onnx_names::meta_base_width, std::to_string(spec.base_width));
  metadata(model, onnx_names::meta_width_multiplier, multiplier.str());
  metadata(model, onnx_names::meta_config, info.config);
  metadata(model, onnx_names::meta_batchnorm, options.fold_batchnorm ? "folded" : "kept");

  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw_error<Error>("export to ", path, ": the ONNX checker rejects the model: ", e.what());
  }
  std::string bytes;
  CBEDNET_REQUIRE(model.SerializeToString(&bytes), Error, "export to ", path, ": the model does not serialise");
  write_file_atomically(path, bytes);
}

}  // namespace cbednet::interop
