// What the graph-API convolutions (conv_graph.cpp) and the fused batch-norm graphs (conv_fused_graph.cpp) share:
// cudnn-frontend's headers, operand descriptions, plan selection and autotune, layer labels, the graph builders and
// the graph cache. Internal to those two files and graph_plan_check.cpp (the only ones compiled with cudnn-frontend's
// include path).
#pragma once

// cudnn-frontend's experimental Blackwell RMSNorm+SiLU engine compiles its kernel with NVRTC, and its code comes
// with the headers. CBEDNet builds convolution graphs only, so that engine is never reached. Weak references keep
// libnvrtc out of the link: cbednet then starts without it, and the GPU machine's kit carries none. Every file that
// includes the frontend needs them (a strong reference in one object would pull the symbol in).
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
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>

#include "kernels/cuda/cuda_backend_impl.hpp"

namespace cbednet::cuda {

namespace fe = cudnn_frontend;

namespace graph_api {

// Plans built and timed per graph: heuristics rank them, so the fastest few are among the first; building every
// candidate (dozens, some compiled at run time) would make the first step of a ResNet take minutes.
inline constexpr std::int64_t kTunedPlans = 8;

fe::DataType_t fe_dtype(DType d, const char* op);
// Logical dimensions N, C, H, W (filters K, C, R, S) with the strides of the tensor's memory layout.
fe::graph::Tensor_attributes describe(const Tensor& t, const char* name, std::int64_t uid, const char* op);
fe::DataType_t compute_type(const Tensor& out);
// An empty graph with out's dtype for its operands and fp32 intermediates.
std::shared_ptr<fe::graph::Graph> new_graph(const Tensor& out, const char* op);

// The same geometry and accumulation for the three convolutions (each its own attributes class).
template <typename Attributes>
Attributes conv_attributes(Attributes attributes, const char* name, const ConvGeometry& g, const Tensor& out) {
  attributes.set_name(name)
      .set_padding({g.pad, g.pad})
      .set_stride({g.stride, g.stride})
      .set_dilation({std::int64_t{1}, std::int64_t{1}});
  attributes.set_compute_data_type(compute_type(out));
  return attributes;
}

// A graph output described as `out` (uid, dimensions, strides, dtype).
void set_graph_output(fe::graph::Tensor_attributes& result, const Tensor& out, std::int64_t uid, const char* op);

// "forward bf16 NHWC x [64,64,128,128] w [64,64,3,3] -> y [64,64,128,128], kernel 3x3 stride 1 pad 1"; `fused`
// names a fused part after the direction ("forward+bias+residual+relu ..."). direction: 'F', 'D' or 'W'.
std::string layer_label(char direction, const Tensor& a, const Tensor& b, const Tensor& out, const ConvGeometry& g,
                        const std::string& fused = {});
// The cache key: the label and the operands' own layouts and dtypes.
std::string graph_key(char direction, const Tensor& a, const Tensor& b, const Tensor& out, const ConvGeometry& g);

// What the precision mode and --nondeterministic allow of an engine, as the frontend's numerical notes say.
struct EngineRules {
  bool fma_only = false;  // fp32 mode: no tensor cores (TF32), no down-converted inputs, no FFT/Winograd
  bool deterministic = true;
};

using Operands = std::unordered_map<std::int64_t, void*>;

// Lowers the graph, selects and builds up to kTunedPlans of its candidate plans (how many: *plans_built). Empty when
// ready, else why the frontend refused it. handle nullptr: deviceless, the graph carrying a device-properties
// descriptor and an SM version instead (graph_plan_check.cpp).
std::string prepare_plans(fe::graph::Graph& graph, cudnnHandle_t handle, const EngineRules& rules,
                          std::int64_t workspace_limit, std::int64_t* plans_built = nullptr);

// prepare_plans, then each built plan timed on these operands (the fastest is kept first).
// Empty when the graph is ready (`workspace_bytes` set), else why the frontend refused it.
std::string tune(fe::graph::Graph& graph, cudnnHandle_t handle, const EngineRules& rules, std::int64_t workspace_limit,
                 Operands& operands, const std::function<void*(std::size_t)>& workspace, std::int64_t& workspace_bytes);

// The first line of a frontend message (some carry one line per rejected plan).
std::string first_line(const std::string& s);
// Every pointer 16-byte aligned, as the graphs describe their operands.
bool aligned(std::initializer_list<const void*> pointers);

// The graphs the CUDA backend runs, operands described from its tensors, not yet lowered to cuDNN (the uids are
// the ones each *_graph_run binds). conv_graph.cpp: one convolution, direction 'F' (x, w -> y), 'D' (dy, w -> dx)
// or 'W' (dy, x -> dw); and y = act(conv(x, w) + bias [+ residual]), a batch norm folded in for inference.
std::shared_ptr<fe::graph::Graph> make_conv_graph(char direction, const Tensor& a, const Tensor& b, const Tensor& out,
                                                  const ConvGeometry& g, const char* op);
std::shared_ptr<fe::graph::Graph> make_bias_act_graph(const Tensor& x, const Tensor& w, const Tensor& bias,
                                                      const Tensor* residual, bool relu, const Tensor& y,
                                                      const ConvGeometry& g, const char* op);
// "+bias", "+bias+residual+relu", ...: the fused epilogue's part of a layer's label.
std::string epilogue_name(bool residual, bool relu);

// The dtype of the scale and bias of a fused graph's input transform for activations of `activations`: cuDNN 9.19's
// pre-compiled NormConvolution engines for sm_90 take them in fp16 with fp16 activations (and have none for bf16);
// fp32 otherwise, the batch norm's own (cbednet-graph-plans, bench/results/deviceless-plans-2026-12-07).
inline DType norm_input_dtype(DType activations) { return activations == DType::f16 ? DType::f16 : DType::f32; }

// conv_fused_graph.cpp, the fused batch norm for training: y = conv([relu(x * scale + bias)] or x, w) with y's
// per-channel sum and sum of squares; dw = wgrad(dy, relu(x * scale + bias)); and dz = dgrad(dy, w) masked by the
// ReLU of x * scale + bias, with the batch norm's sums of dz and dz * xhat.
std::shared_ptr<fe::graph::Graph> make_stats_graph(const Tensor& x, const NormRelu* input, const Tensor& w,
                                                   const Tensor& y, const Tensor& sum, const Tensor& sqsum,
                                                   const ConvGeometry& g, const char* op);
std::shared_ptr<fe::graph::Graph> make_wgrad_graph(const Tensor& x, const NormRelu& input, const Tensor& dy,
                                                   const Tensor& dw, const ConvGeometry& g, const char* op);
// dbn_weight's equivalent-scale outputs: [1,C,1,1] fp32 scratch the graph writes and nobody reads.
struct DbnExtras {
  Tensor eq_scale_dy, eq_scale_x, eq_bias;
};
std::shared_ptr<fe::graph::Graph> make_dgrad_graph(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                   const NormRelu& input, const Tensor& dz, const Tensor& sum_dz,
                                                   const Tensor& sum_dzxhat, const DbnExtras& extras,
                                                   const ConvGeometry& g, const char* op);

}  // namespace graph_api

// One graph per key, its plans tuned once; nullptr graph: refused (the caller's fallback runs that key).
struct CudaBackend::ConvGraphCache {
  struct Entry {
    std::shared_ptr<fe::graph::Graph> graph;
    std::int64_t workspace = 0;
  };
  std::unordered_map<std::string, Entry> entries;
};

}  // namespace cbednet::cuda
