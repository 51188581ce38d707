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
// The graph API's convolutions have no alpha/beta: GradMode::accumulate computes into scratch and adds it
// (one axpy pass), as the channel-padded legacy path already does.
// cudnn-frontend's experimental Blackwell RMSNorm+SiLU engine compiles its kernel with NVRTC, and its code comes
// with the headers. CBEDNet builds convolution graphs only, so that engine is never reached. Weak references keep
// libnvrtc out of the link: cbednet then starts without it, and the GPU machine's kit carries none.
#include <nvrtc.h>
#pragma weak nvrtcCreateProgram
#pragma weak nvrtcCompileProgram
#pragma weak nvrtcDestroyProgram
#pragma weak nvrtcGetProgramLogSize
#pragma weak nvrtcGetProgramLog
#pragma weak nvrtcGetCUBINSize
#pragma weak nvrtcGetCUBIN
#pragma weak nvrtcGetPTXSize
#pragma weak nvrtcGetPTX
#pragma weak nvrtcGetErrorString

#include <cudnn_frontend.h>

#include <cstdint>
#include <iostream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/cuda_backend_impl.hpp"

namespace cbednet::cuda {

namespace fe = cudnn_frontend;

namespace {

// Plans built and timed per graph: heuristics rank them, so the fastest few are among the first; building every
// candidate (dozens, some compiled at run time) would make the first step of a ResNet take minutes.
constexpr std::int64_t kTunedPlans = 8;
constexpr std::int64_t kUidIn0 = 1, kUidIn1 = 2, kUidOut = 3;
constexpr std::uintptr_t kOperandAlignment = 16;

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

const char* direction_name(char direction) {
  return direction == 'F' ? "forward" : direction == 'D' ? "backward data" : "backward filter";
}

// "forward bf16 NHWC x [64,64,128,128] w [64,64,3,3] -> y [64,64,128,128], kernel 3x3 stride 1 pad 1"
std::string layer_label(char direction, const Tensor& a, const Tensor& b, const Tensor& out, const ConvGeometry& g) {
  static const char* const names[3][3] = {{"x", "w", "y"}, {"dy", "w", "dx"}, {"dy", "x", "dw"}};
  const int row = direction == 'F' ? 0 : direction == 'D' ? 1 : 2;
  std::ostringstream s;
  const auto dims = [&](const Tensor& t) {
    const Shape& sh = t.shape();
    s << '[' << sh.n << ',' << sh.c << ',' << sh.h << ',' << sh.w << ']';
  };
  s << direction_name(direction) << ' ' << to_string(out.dtype()) << ' ' << to_string(out.layout()) << ' '
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

// The graph of one convolution (operands described, not yet lowered to cuDNN).
std::shared_ptr<fe::graph::Graph> make_graph(char direction, const Tensor& a, const Tensor& b, const Tensor& out,
                                             const ConvGeometry& g, const char* op) {
  const fe::DataType_t compute = out.dtype() == DType::f64 ? fe::DataType_t::DOUBLE : fe::DataType_t::FLOAT;
  auto graph = std::make_shared<fe::graph::Graph>();
  graph->set_io_data_type(fe_dtype(out.dtype(), op))
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(compute);
  const std::vector<std::int64_t> pad{g.pad, g.pad}, stride{g.stride, g.stride}, dilation{1, 1};
  // The same geometry and accumulation for the three operations (each its own attributes class).
  const auto geometry = [&](auto attributes, const char* name) {
    attributes.set_name(name).set_padding(pad).set_stride(stride).set_dilation(dilation);
    attributes.set_compute_data_type(compute);
    return attributes;
  };
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
  const fe::graph::Tensor_attributes o = describe(out, "out", kUidOut, op);
  result->set_output(true)
      .set_uid(kUidOut)
      .set_dim(o.get_dim())
      .set_stride(o.get_stride())
      .set_data_type(o.get_data_type());
  return graph;
}

// What the precision mode and --nondeterministic allow of an engine, as the frontend's numerical notes say.
struct EngineRules {
  bool fma_only = false;  // fp32 mode: no tensor cores (TF32), no down-converted inputs, no FFT/Winograd
  bool deterministic = true;
};

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

// Lowers the graph, selects and builds its candidate plans. Empty when ready, else why the frontend refused.
std::string prepare_plans(fe::graph::Graph& graph, cudnnHandle_t handle, const EngineRules& rules,
                          std::int64_t workspace_limit) {
  const auto failed = [](const char* step, fe::error_t status) {
    return std::string(step) + ": " + status.get_message();
  };
  if (auto st = graph.validate(); st.is_bad()) return failed("validate", st);
  if (auto st = graph.build_operation_graph(handle); st.is_bad()) return failed("build_operation_graph", st);
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
  if (built == 0) return "build_plan_at_index: no plan could be built (" + first_failure + ")";
  return {};
}

// The first line of a frontend message (some carry one line per rejected plan).
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

// One convolution's graph: its plans tuned once; nullptr graph: refused, the legacy API runs this key.
struct CudaBackend::ConvGraphCache {
  struct Entry {
    std::shared_ptr<fe::graph::Graph> graph;
    std::int64_t workspace = 0;
  };
  std::unordered_map<std::string, Entry> entries;
};

void CudaBackend::note_conv_api(char direction, const Tensor& a, const Tensor& b, const Tensor& out,
                                const ConvGeometry& g, const char* api) {
  conv_api_ran_.emplace(layer_label(direction, a, b, out, g), api);  // the first path a layer took stays
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
  for (const void* p : {a.raw(), b.raw(), static_cast<const void*>(out.raw())}) {
    if (reinterpret_cast<std::uintptr_t>(p) % kOperandAlignment != 0) {
      note_conv_api(direction, a, b, out, g, "legacy-fallback");
      return false;
    }
  }
  if (!conv_graphs_) conv_graphs_ = std::make_shared<ConvGraphCache>();
  const std::string key = graph_key(direction, a, b, out, g);
  auto it = conv_graphs_->entries.find(key);
  if (it != conv_graphs_->entries.end() && !it->second.graph) return false;  // refused before
  const bool accumulate = mode == GradMode::accumulate;
  // Accumulation: the graph writes scratch, which is then added to `out` (this also keeps the autotune's
  // repeated executions off the gradient being accumulated).
  Tensor target = accumulate ? scratch(out.shape(), out.dtype(), out.layout(), op) : out.view();
  std::unordered_map<std::int64_t, void*> operands{
      {kUidIn0, const_cast<void*>(a.raw())}, {kUidIn1, const_cast<void*>(b.raw())}, {kUidOut, target.raw()}};
  if (it == conv_graphs_->entries.end()) {
    ConvGraphCache::Entry entry;
    auto graph = make_graph(direction, a, b, out, g, op);
    const EngineRules rules{precision_ == Precision::fp32, deterministic_};
    std::string refused =
        prepare_plans(*graph, cudnn_.get(), rules, static_cast<std::int64_t>(conv_search_workspace_limit()));
    if (refused.empty()) {
      // Times every built plan on these operands (the frontend synchronises the device around each) and puts
      // the fastest first; the stream's queued work ran before, so the operands hold their values.
      void* ws = workspace(static_cast<std::size_t>(graph->get_autotune_workspace_size()), op);
      if (auto st = graph->autotune(cudnn_.get(), operands, ws); st.is_bad()) {
        refused = "autotune: " + st.get_message();
      } else if (auto ws_st = graph->get_workspace_size(entry.workspace); ws_st.is_bad()) {
        refused = "get_workspace_size: " + ws_st.get_message();
      }
    }
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

}  // namespace cbednet::cuda
