// Convolutions through cuDNN's graph API, with NVIDIA's cudnn-frontend (header-only C++ over cudnn_graph.h).
// One graph per (direction, shapes, dtypes, layouts, geometry), built on first use and kept:
//   validate -> build_operation_graph -> execution plans from heuristics (mode A, then the fallback list) ->
//   engines whose numerical notes the precision mode forbids are deselected -> check_support -> up to
//   kTunedPlans plans built -> autotune (each plan timed on the real operands) -> the fastest runs from then on.
// A graph the frontend refuses at any of these steps is remembered as refused: that shape runs on the legacy
// API (conv_cudnn.cpp) for the rest of the process, reported once on stderr and as "legacy-fallback" in
// conv_api_ran(). Compiled and linked, never yet run on a GPU (docs/gpu-backend.md, "Graph API").
//
// Operands (uids 1, 2 -> 3):  forward x, w -> y;  backward data dy, w -> dx;  backward filter dy, x -> dw.
// conv2d_bias_act_forward (a batch norm folded into the convolution, inference) is one graph of its own:
// conv_fprop(x 1, w 2) [-> ADD residual 5] -> ADD bias 4 (broadcast [1,K,1,1]) [-> RELU_FWD] -> y 3, the
// intermediates virtual in fp32; refused, that shape runs the plain convolution and one epilogue kernel instead.
// The graph API's convolutions have no alpha/beta: GradMode::accumulate computes into scratch and adds it
// (one axpy pass), as the channel-padded legacy path already does.
// The helpers in graph_api (descriptions, plan choice and autotune, labels) are shared with the fused batch-norm
// graphs of conv_fused_graph.cpp through conv_graph_support.hpp.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/conv_graph_support.hpp"

namespace cbednet::cuda {

namespace graph_api {

namespace {

constexpr std::uintptr_t kOperandAlignment = 16;
constexpr std::int64_t kUidIn0 = 1, kUidIn1 = 2, kUidOut = 3, kUidBias = 4, kUidResidual = 5;

const char* direction_name(char direction) {
  return direction == 'F' ? "forward" : direction == 'D' ? "backward data" : "backward filter";
}

void deselect_forbidden_engines(fe::graph::Graph& graph, const EngineRules& rules) {
  using Note = fe::NumericalNote_t;
  // Every mode accumulates in fp32, as the legacy path (CUDNN_DATA_FLOAT compute) does.
  std::vector<Note> forbidden{Note::REDUCED_PRECISION_REDUCTION};
  if (rules.deterministic) forbidden.push_back(Note::NONDETERMINISTIC);
  if (rules.fma_only) {
    // The fp32 mode must match an fp64 reference to ~1e-6: FFT and Winograd transforms lose a few bits, tensor
    // cores on fp32 data mean TF32.
    for (const Note n : {Note::TENSOR_CORE, Note::DOWN_CONVERT_INPUTS, Note::FFT, Note::WINOGRAD,
                         Note::WINOGRAD_TILE_4x4, Note::WINOGRAD_TILE_6x6, Note::WINOGRAD_TILE_13x13})
      forbidden.push_back(n);
  }
  graph.deselect_numeric_notes(forbidden);
}

}  // namespace

std::string prepare_plans(fe::graph::Graph& graph, cudnnHandle_t handle, const EngineRules& rules,
                          std::int64_t workspace_limit, std::int64_t* plans_built) {
  const auto failed = [](const char* step, fe::error_t status) {
    return std::string(step) + ": " + status.get_message();
  };
  if (auto st = graph.validate(); st.is_bad()) return failed("validate", st);
  // Without a handle the graph carries a device-properties descriptor and an SM version (graph_plan_check.cpp).
  if (auto st = handle ? graph.build_operation_graph(handle) : graph.build_operation_graph(); st.is_bad())
    return failed("build_operation_graph", st);
  if (auto st = graph.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}); st.is_bad())
    return failed("create_execution_plans", st);
  deselect_forbidden_engines(graph, rules);
  // Engines compiled at run time (NVRTC) can take seconds each to build; ResNet-50 alone has about 60 graphs.
  graph.deselect_behavior_notes({fe::BehaviorNote_t::RUNTIME_COMPILATION});
  graph.deselect_workspace_greater_than(workspace_limit);
  if (auto st = graph.check_support(); st.is_bad()) return failed("check_support", st);
  std::int64_t built = 0;
  std::string first_failure;
  for (std::int64_t i = 0; i < graph.get_execution_plan_count() && built < kTunedPlans; ++i) {
    auto st = graph.build_plan_at_index(i);
    if (st.is_good()) {
      ++built;
    } else if (first_failure.empty()) {
      first_failure = st.get_message();
    }
  }
  if (plans_built) *plans_built = built;
  if (built == 0) return "build_plan_at_index: no plan could be built (" + first_failure + ")";
  return {};
}

fe::DataType_t fe_dtype(DType d, const char* op) {
  switch (d) {
    case DType::f32:
      return fe::DataType_t::FLOAT;
    case DType::bf16:
      return fe::DataType_t::BFLOAT16;
    case DType::f16:
      return fe::DataType_t::HALF;
    case DType::f64:
      return fe::DataType_t::DOUBLE;
    case DType::i32:
      break;
  }
  throw_error<InvalidArgument>("cuda backend, ", op, ": the graph API convolves floating-point tensors only");
}

// Logical dimensions N, C, H, W (filters K, C, R, S) with the strides of the tensor's memory layout.
fe::graph::Tensor_attributes describe(const Tensor& t, const char* name, std::int64_t uid, const char* op) {
  const Shape& s = t.shape();
  const std::vector<std::int64_t> strides = t.layout() == Layout::nhwc
                                                ? std::vector<std::int64_t>{s.h * s.w * s.c, 1, s.w * s.c, s.c}
                                                : std::vector<std::int64_t>{s.c * s.h * s.w, s.h * s.w, s.w, 1};
  return fe::graph::Tensor_attributes()
      .set_name(name)
      .set_uid(uid)
      .set_dim({s.n, s.c, s.h, s.w})
      .set_stride(strides)
      .set_data_type(fe_dtype(t.dtype(), op));
}

// "forward bf16 NHWC x [64,64,128,128] w [64,64,3,3] -> y [64,64,128,128], kernel 3x3 stride 1 pad 1"; `fused`
// names a fused epilogue after the direction ("forward+bias+residual+relu ...").
std::string layer_label(char direction, const Tensor& a, const Tensor& b, const Tensor& out, const ConvGeometry& g,
                        const std::string& fused) {
  static const char* const names[3][3] = {{"x", "w", "y"}, {"dy", "w", "dx"}, {"dy", "x", "dw"}};
  const int row = direction == 'F' ? 0 : direction == 'D' ? 1 : 2;
  std::ostringstream s;
  const auto dims = [&](const Tensor& t) {
    const Shape& sh = t.shape();
    s << '[' << sh.n << ',' << sh.c << ',' << sh.h << ',' << sh.w << ']';
  };
  s << direction_name(direction) << fused << ' ' << to_string(out.dtype()) << ' ' << to_string(out.layout()) << ' '
    << names[row][0] << ' ';
  dims(a);
  s << ' ' << names[row][1] << ' ';
  dims(b);
  s << " -> " << names[row][2] << ' ';
  dims(out);
  s << ", kernel " << g.kernel_h << 'x' << g.kernel_w << " stride " << g.stride << " pad " << g.pad;
  return s.str();
}

// The cache key: the label holds every property the graph depends on (direction, dtypes, layouts, shapes,
// geometry) except the operands' own layouts and dtypes, which are added.
std::string graph_key(char direction, const Tensor& a, const Tensor& b, const Tensor& out, const ConvGeometry& g) {
  std::ostringstream k;
  k << layer_label(direction, a, b, out, g);
  for (const Tensor* t : {&a, &b}) k << '|' << static_cast<int>(t->dtype()) << ',' << static_cast<int>(t->layout());
  return k.str();
}

fe::DataType_t compute_type(const Tensor& out) {
  return out.dtype() == DType::f64 ? fe::DataType_t::DOUBLE : fe::DataType_t::FLOAT;
}

// An empty graph with out's dtype for its operands and fp32 intermediates.
std::shared_ptr<fe::graph::Graph> new_graph(const Tensor& out, const char* op) {
  auto graph = std::make_shared<fe::graph::Graph>();
  graph->set_io_data_type(fe_dtype(out.dtype(), op))
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(compute_type(out));
  return graph;
}

// The graph's result becomes `out` (uid, its dimensions, strides and dtype).
void set_graph_output(fe::graph::Tensor_attributes& result, const Tensor& out, std::int64_t uid, const char* op) {
  const fe::graph::Tensor_attributes o = describe(out, "out", uid, op);
  result.set_output(true).set_uid(uid).set_dim(o.get_dim()).set_stride(o.get_stride()).set_data_type(o.get_data_type());
}

// prepare_plans, then every built plan timed on these operands (the frontend synchronises the device around each)
// with the fastest put first; the stream's queued work ran before, so the operands hold their values. Empty when
// the graph is ready (`workspace_bytes` set), else why the frontend refused it.
std::string tune(fe::graph::Graph& graph, cudnnHandle_t handle, const EngineRules& rules, std::int64_t workspace_limit,
                 Operands& operands, const std::function<void*(std::size_t)>& workspace,
                 std::int64_t& workspace_bytes) {
  if (std::string refused = prepare_plans(graph, handle, rules, workspace_limit); !refused.empty()) return refused;
  void* ws = workspace(static_cast<std::size_t>(graph.get_autotune_workspace_size()));
  if (auto st = graph.autotune(handle, operands, ws); st.is_bad()) return "autotune: " + st.get_message();
  if (auto st = graph.get_workspace_size(workspace_bytes); st.is_bad())
    return "get_workspace_size: " + st.get_message();
  return {};
}

// The first line of a frontend message (some carry one line per rejected plan).
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

bool aligned(std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (reinterpret_cast<std::uintptr_t>(p) % kOperandAlignment != 0) return false;
  return true;
}

std::shared_ptr<fe::graph::Graph> make_conv_graph(char direction, const Tensor& a, const Tensor& b, const Tensor& out,
                                                  const ConvGeometry& g, const char* op) {
  auto graph = new_graph(out, op);
  const auto geometry = [&](auto attributes, const char* name) { return conv_attributes(attributes, name, g, out); };
  std::shared_ptr<fe::graph::Tensor_attributes> result;
  if (direction == 'F') {
    auto x = graph->tensor(describe(a, "x", kUidIn0, op));
    auto w = graph->tensor(describe(b, "w", kUidIn1, op));
    result = graph->conv_fprop(x, w, geometry(fe::graph::Conv_fprop_attributes(), "fprop"));
  } else if (direction == 'D') {
    auto dy = graph->tensor(describe(a, "dy", kUidIn0, op));
    auto w = graph->tensor(describe(b, "w", kUidIn1, op));
    result = graph->conv_dgrad(dy, w, geometry(fe::graph::Conv_dgrad_attributes(), "dgrad"));
  } else {
    auto dy = graph->tensor(describe(a, "dy", kUidIn0, op));
    auto x = graph->tensor(describe(b, "x", kUidIn1, op));
    result = graph->conv_wgrad(dy, x, geometry(fe::graph::Conv_wgrad_attributes(), "wgrad"));
  }
  set_graph_output(*result, out, kUidOut, op);
  return graph;
}

// "+bias", "+bias+residual+relu", ...: the fused epilogue's part of a layer's label.
std::string epilogue_name(bool residual, bool relu) {
  return std::string("+bias") + (residual ? "+residual" : "") + (relu ? "+relu" : "");
}

// The bias ([1,K,1,1]) broadcasts over N, H, W; the sums are fp32 virtual tensors, rounded to y's dtype once.
std::shared_ptr<fe::graph::Graph> make_bias_act_graph(const Tensor& x, const Tensor& w, const Tensor& bias,
                                                      const Tensor* residual, bool relu, const Tensor& y,
                                                      const ConvGeometry& g, const char* op) {
  auto graph = new_graph(y, op);
  const auto pointwise = [&](fe::PointwiseMode_t mode, const char* name) {
    return fe::graph::Pointwise_attributes().set_name(name).set_mode(mode).set_compute_data_type(fe::DataType_t::FLOAT);
  };
  auto xt = graph->tensor(describe(x, "x", kUidIn0, op));
  auto wt = graph->tensor(describe(w, "w", kUidIn1, op));
  auto result = graph->conv_fprop(xt, wt, conv_attributes(fe::graph::Conv_fprop_attributes(), "fprop", g, y));
  // The residual before the bias: cuDNN 9.19's pre-compiled engines for sm_90 take conv -> add residual -> add bias
  // -> ReLU and refuse the other order (cbednet-graph-plans, bench/results/deviceless-plans-2026-12-07).
  if (residual) {
    auto rt = graph->tensor(describe(*residual, "residual", kUidResidual, op));
    result = graph->pointwise(result, rt, pointwise(fe::PointwiseMode_t::ADD, "add_residual"));
  }
  auto bt = graph->tensor(describe(bias, "bias", kUidBias, op));
  result = graph->pointwise(result, bt, pointwise(fe::PointwiseMode_t::ADD, "add_bias"));
  if (relu) result = graph->pointwise(result, pointwise(fe::PointwiseMode_t::RELU_FWD, "relu"));
  set_graph_output(*result, y, kUidOut, op);
  return graph;
}

}  // namespace graph_api

using namespace graph_api;

void CudaBackend::note_conv_api(char direction, const Tensor& a, const Tensor& b, const Tensor& out,
                                const ConvGeometry& g, const char* api) {
  note_conv_api(layer_label(direction, a, b, out, g), api);
}

void CudaBackend::note_conv_api(const std::string& layer, const char* api) {
  conv_api_ran_.emplace(layer, api);  // the first path a layer took stays
}

std::string CudaBackend::conv_layers_json() const {
  std::ostringstream s;
  s << '[';
  const char* sep = "";
  for (const auto& [layer, api] : conv_api_ran_) {
    s << sep << "{\"layer\": \"" << layer << "\", \"conv_api\": \"" << api << "\"}";
    sep = ", ";
  }
  s << ']';
  return s.str();
}

bool CudaBackend::conv_graph_run(char direction, const Tensor& a, const Tensor& b, Tensor& out, const ConvGeometry& g,
                                 GradMode mode, const char* op) {
  // The graphs describe their operands as 16-byte aligned (the frontend's default, which engines rely on); a view
  // at an odd offset (a micro-batch of a small fp32 input) runs on the legacy API, this call only.
  if (!aligned({a.raw(), b.raw(), out.raw()})) {
    note_conv_api(direction, a, b, out, g, "legacy-fallback");
    return false;
  }
  if (!conv_graphs_) conv_graphs_ = std::make_shared<ConvGraphCache>();
  const std::string key = graph_key(direction, a, b, out, g);
  auto it = conv_graphs_->entries.find(key);
  if (it != conv_graphs_->entries.end() && !it->second.graph) return false;  // refused before
  const bool accumulate = mode == GradMode::accumulate;
  // Accumulation: the graph writes scratch, which is then added to `out` (this also keeps the autotune's
  // repeated executions off the gradient being accumulated).
  Tensor target = accumulate ? scratch(out.shape(), out.dtype(), out.layout(), op) : out.view();
  Operands operands{
      {kUidIn0, const_cast<void*>(a.raw())}, {kUidIn1, const_cast<void*>(b.raw())}, {kUidOut, target.raw()}};
  if (it == conv_graphs_->entries.end()) {
    ConvGraphCache::Entry entry;
    auto graph = make_conv_graph(direction, a, b, out, g, op);
    const std::string refused = tune(
        *graph, cudnn_.get(), EngineRules{precision_ == Precision::fp32, deterministic_},
        static_cast<std::int64_t>(conv_search_workspace_limit()), operands,
        [&](std::size_t bytes) { return workspace(bytes, op); }, entry.workspace);
    if (refused.empty()) {
      entry.graph = std::move(graph);
      note_conv_api(direction, a, b, out, g, "graph");
    } else {
      std::cerr << "cbednet: cuda backend: cuDNN's graph API refused the convolution "
                << layer_label(direction, a, b, out, g) << " (" << first_line(refused)
                << "); this shape runs on the legacy API\n";
      note_conv_api(direction, a, b, out, g, "legacy-fallback");
    }
    it = conv_graphs_->entries.emplace(key, std::move(entry)).first;
  }
  const ConvGraphCache::Entry& entry = it->second;
  if (!entry.graph) return false;
  void* ws = workspace(static_cast<std::size_t>(entry.workspace), op);
  if (auto st = entry.graph->execute(cudnn_.get(), operands, ws); st.is_bad())
    throw_error<BackendError>("cuda backend, ", op, ": cuDNN graph execution failed for ",
                              layer_label(direction, a, b, out, g), ": ", st.get_message());
  if (accumulate) cuda::axpy(1.0, view_of(target), view_of(out), stream_.get(), op);
  return true;
}

bool CudaBackend::conv_bias_act_graph_run(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                                          bool relu, Tensor& y, const ConvGeometry& g, const char* op) {
  const std::string label = layer_label('F', x, w, y, g, epilogue_name(residual != nullptr, relu));
  if (!aligned({x.raw(), w.raw(), bias.raw(), residual ? residual->raw() : nullptr, y.raw()})) {
    note_conv_api(label, "legacy-fallback");  // this call only, as conv_graph_run
    return false;
  }
  if (!conv_graphs_) conv_graphs_ = std::make_shared<ConvGraphCache>();
  std::ostringstream key;
  key << graph_key('F', x, w, y, g) << "|bias " << static_cast<int>(bias.dtype()) << ','
      << static_cast<int>(bias.layout()) << "|residual " << (residual ? static_cast<int>(residual->dtype()) : -1)
      << "|relu " << relu;
  auto it = conv_graphs_->entries.find(key.str());
  if (it != conv_graphs_->entries.end() && !it->second.graph) return false;  // refused before
  Operands operands{{kUidIn0, const_cast<void*>(x.raw())},
                    {kUidIn1, const_cast<void*>(w.raw())},
                    {kUidBias, const_cast<void*>(bias.raw())},
                    {kUidOut, y.raw()}};
  if (residual) operands.emplace(kUidResidual, const_cast<void*>(residual->raw()));
  if (it == conv_graphs_->entries.end()) {
    ConvGraphCache::Entry entry;
    auto graph = make_bias_act_graph(x, w, bias, residual, relu, y, g, op);
    // The autotune executes the graph several times: it only writes y, which this call overwrites anyway.
    const std::string refused = tune(
        *graph, cudnn_.get(), EngineRules{precision_ == Precision::fp32, deterministic_},
        static_cast<std::int64_t>(conv_search_workspace_limit()), operands,
        [&](std::size_t bytes) { return workspace(bytes, op); }, entry.workspace);
    if (refused.empty()) {
      entry.graph = std::move(graph);
      note_conv_api(label, "graph");
    } else {
      std::cerr << "cbednet: cuda backend: cuDNN's graph API refused the fused convolution " << label << " ("
                << first_line(refused) << "); this shape runs as the convolution and one epilogue kernel\n";
      note_conv_api(label, "legacy-fallback");
    }
    it = conv_graphs_->entries.emplace(key.str(), std::move(entry)).first;
  }
  const ConvGraphCache::Entry& entry = it->second;
  if (!entry.graph) return false;
  void* ws = workspace(static_cast<std::size_t>(entry.workspace), op);
  if (auto st = entry.graph->execute(cudnn_.get(), operands, ws); st.is_bad())
    throw_error<BackendError>("cuda backend, ", op, ": cuDNN graph execution failed for ", label, ": ",
                              st.get_message());
  return true;
}

}  // namespace cbednet::cuda
