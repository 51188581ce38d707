// Convolutions: the choice between cuDNN's legacy API and its graph API (conv_graph.cpp) per call, the channel
// padding both share, and the legacy path. On the legacy path the algorithm of each (direction, shapes, dtypes,
// layouts, geometry) is measured once with cudnnFind*AlgorithmEx (heuristics *_v7 if the search fails) and
// cached; the fastest deterministic algorithm wins, so repeated runs give bitwise equal gradients.
//   x [N,C,H,W], w [K,C,R,S] (KRSC in NHWC), y [N,K,P,Q], bias [K]
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <sstream>

#include "kernels/cuda/cuda_backend_impl.hpp"
#include "kernels/cuda/cudnn_desc.hpp"

namespace cbednet::cuda {

namespace {

// Batch 64 at 512x512 has convolutions whose fastest algorithms want several hundred MiB of workspace.
constexpr std::size_t kSearchWorkspaceLimit = std::size_t{1} << 30;

std::string conv_key(char direction, const Tensor& x, const Tensor& w, const Tensor& y, const ConvGeometry& g) {
  std::ostringstream k;
  const auto put = [&](const Tensor& t) {
    const Shape& s = t.shape();
    k << '|' << s.n << ',' << s.c << ',' << s.h << ',' << s.w << ',' << static_cast<int>(t.dtype()) << ','
      << static_cast<int>(t.layout());
  };
  k << direction;
  put(x);
  put(w);
  put(y);
  k << '|' << g.kernel_h << ',' << g.kernel_w << ',' << g.stride << ',' << g.pad;
  return k.str();
}

struct ConvDescs {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
};

ConvDescs make_descs(const Tensor& x, const Tensor& w, const Tensor& y, const ConvGeometry& g, cudnnMathType_t math,
                     const char* op) {
  ConvDescs d{tensor_desc(x, op), tensor_desc(y, op), filter_desc(w, op), make_conv_desc(op)};
  // fp32 accumulation for every dtype (PSEUDO_HALF / PSEUDO_BFLOAT16 configurations for 16-bit data).
  const cudnnDataType_t compute = x.dtype() == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  CBEDNET_CUDNN(op, cudnnSetConvolution2dDescriptor(d.conv.get(), g.pad, g.pad, g.stride, g.stride, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, compute));
  CBEDNET_CUDNN(op, cudnnSetConvolutionMathType(d.conv.get(), math));
  return d;
}

// FFT and Winograd transforms lose a few bits; in fp32 mode results must match an fp64 reference to ~1e-6.
bool transform_algo(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool transform_algo(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool transform_algo(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

// Fastest successful deterministic result, else fastest successful (fastest successful outright when
// deterministic is false). fp32 mode (fma_only) accepts FMA math only (no TF32) and no FFT/Winograd algorithm.
template <typename Perf>
bool pick(const Perf* perf, int n, bool fma_only, bool deterministic, int& algo, cudnnMathType_t& math,
          std::size_t& ws) {
  for (const bool need_deterministic : {deterministic, false}) {
    for (int i = 0; i < n; ++i) {
      const Perf& p = perf[i];
      if (p.status != CUDNN_STATUS_SUCCESS) continue;
      if (need_deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
      if (fma_only && (p.mathType != CUDNN_FMA_MATH || transform_algo(p.algo))) continue;
      algo = static_cast<int>(p.algo);
      math = p.mathType;
      ws = p.memory;
      return true;
    }
  }
  return false;
}

}  // namespace

std::size_t CudaBackend::conv_search_workspace_limit() {
  std::size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return 0;
  }
  return std::min(kSearchWorkspaceLimit, free_bytes / 4);
}

CudaBackend::ConvApi CudaBackend::parse_conv_api(const std::string& value) {
  if (value == "legacy") return ConvApi::legacy;
  if (value == "graph") return ConvApi::graph;
  if (value == "auto") return ConvApi::automatic;
  throw_error<InvalidArgument>("--conv-api: expected legacy, graph or auto, got '", value, "'");
}

// auto runs the legacy API until a device run has shown the graph path correct against the fp64 reference and
// faster on the benchmark (docs/gpu-backend.md): the graph path has been compiled, never run on a GPU.
bool CudaBackend::use_conv_graph() const { return conv_api_ == ConvApi::graph; }

bool CudaBackend::pad_channels(const Tensor& x) const {
  return pad_conv_channels_ && wants_channel_padding(x.dtype(), x.layout(), x.shape().c);
}

Tensor CudaBackend::channels_padded(const Tensor& t, const char* op) {
  Tensor out = scratch(padded_channels(t.shape()), t.dtype(), t.layout(), op);
  copy_channels(view_of(t), view_of(out), false, stream_.get(), op);
  return out;
}

cudnnMathType_t CudaBackend::conv_math() const {
  // fp32: TF32 off (FMA only). tf32/bf16/fp16: tensor cores.
  return precision_ == Precision::fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

// Shapes, dtypes and devices were checked by Backend::conv2d_* (kernels/op_checks.hpp). The channel-padded
// paths call the implementations directly: their padded operands are consistent by construction.
void CudaBackend::do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                                    const ConvGeometry& g) {
  const char* op = "conv2d_forward";
  if (pad_channels(x)) {
    do_conv2d_forward(channels_padded(x, op), channels_padded(w, op), bias, y, g);
    return;
  }
  if (!use_conv_graph() || !conv_graph_run('F', x, w, y, g, GradMode::overwrite, op)) legacy_conv_forward(x, w, y, g);
  if (bias) {
    add_channel_bias(view_of(y), view_of(*bias), stream_.get(), op);
  }
}

// A convolution with the batch norm after it folded into w and bias (inference). --conv-api graph: one fused graph
// when cuDNN accepts it. Otherwise (legacy, auto, or the fused graph refused): the convolution as conv2d_forward
// runs it (so a refused fused graph still convolves through the plain graph under --conv-api graph), then one
// epilogue pass over y where the default composition would make three (bias, add, ReLU).
void CudaBackend::do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                             const Tensor* residual, Activation act, Tensor& y, const ConvGeometry& g) {
  const char* op = "conv2d_bias_act_forward";
  if (pad_channels(x)) {
    do_conv2d_bias_act_forward(channels_padded(x, op), channels_padded(w, op), bias, residual, act, y, g);
    return;
  }
  const bool relu = act == Activation::relu;
  // Both the graph and the epilogue kernel index the residual as y.
  const Tensor r = residual ? in_layout(*residual, y.layout(), op) : Tensor{};
  const Tensor* rp = residual ? &r : nullptr;
  if (use_conv_graph() && conv_bias_act_graph_run(x, w, bias, rp, relu, y, g, op)) return;
  do_conv2d_forward(x, w, nullptr, y, g);
  const View rv = residual ? view_of(r) : View{};
  conv_bias_act_epilogue(view_of(y), view_of(bias), residual ? &rv : nullptr, relu, stream_.get(), op);
}

void CudaBackend::legacy_conv_forward(const Tensor& x, const Tensor& w, Tensor& y, const ConvGeometry& g) {
  const char* op = "conv2d_forward";
  const bool fma_only = precision_ == Precision::fp32;
  ConvDescs d = make_descs(x, w, y, g, conv_math(), op);
  const std::string key = conv_key('F', x, w, y, g);
  auto it = conv_algos_.find(key);
  if (it == conv_algos_.end()) {
    ConvAlgo a;
    std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
    int n = 0;
    const std::size_t limit = conv_search_workspace_limit();
    void* ws = workspace(limit, op);
    const cudnnStatus_t st = cudnnFindConvolutionForwardAlgorithmEx(
        cudnn_.get(), d.x.get(), x.raw(), d.w.get(), w.raw(), d.conv.get(), d.y.get(), y.raw(),
        static_cast<int>(perf.size()), &n, perf.data(), ws, limit);
    if (st != CUDNN_STATUS_SUCCESS || !pick(perf.data(), n, fma_only, deterministic_, a.algo, a.math, a.workspace)) {
      CBEDNET_CUDNN(op,
                    cudnnGetConvolutionForwardAlgorithm_v7(cudnn_.get(), d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                           static_cast<int>(perf.size()), &n, perf.data()));
      if (!pick(perf.data(), n, fma_only, deterministic_, a.algo, a.math, a.workspace))
        throw_error<BackendError>("cuda backend, ", op, ": cuDNN has no algorithm for x ", x.describe(), ", w ",
                                  w.describe(), ", y ", y.describe());
    }
    it = conv_algos_.emplace(key, a).first;
    note_conv_api('F', x, w, y, g, "legacy");
  }
  const ConvAlgo& a = it->second;
  CBEDNET_CUDNN(op, cudnnSetConvolutionMathType(d.conv.get(), a.math));
  const float one = 1.0f, zero = 0.0f;
  CBEDNET_CUDNN(op, cudnnConvolutionForward(cudnn_.get(), &one, d.x.get(), x.raw(), d.w.get(), w.raw(), d.conv.get(),
                                            static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), workspace(a.workspace, op),
                                            a.workspace, &zero, d.y.get(), y.raw()));
}

void CudaBackend::do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                                          GradMode mode) {
  const char* op = "conv2d_backward_data";
  if (pad_channels(dx)) {
    Tensor dx_padded = scratch(padded_channels(dx.shape()), dx.dtype(), dx.layout(), op);
    do_conv2d_backward_data(dy, channels_padded(w, op), dx_padded, g, GradMode::overwrite);
    copy_channels(view_of(dx_padded), view_of(dx), mode == GradMode::accumulate, stream_.get(), op);
    return;
  }
  if (!use_conv_graph() || !conv_graph_run('D', dy, w, dx, g, mode, op)) legacy_conv_backward_data(dy, w, dx, g, mode);
}

void CudaBackend::legacy_conv_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                                            GradMode mode) {
  const char* op = "conv2d_backward_data";
  const bool fma_only = precision_ == Precision::fp32;
  ConvDescs d = make_descs(dx, w, dy, g, conv_math(), op);
  const std::string key = conv_key('D', dx, w, dy, g);
  auto it = conv_algos_.find(key);
  if (it == conv_algos_.end()) {
    ConvAlgo a;
    std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perf{};
    int n = 0;
    // The search writes its output: use scratch when dx holds a gradient to accumulate onto.
    Tensor dx_scratch = mode == GradMode::accumulate ? scratch(dx.shape(), dx.dtype(), dx.layout(), op) : dx.view();
    const std::size_t limit = conv_search_workspace_limit();
    void* ws = workspace(limit, op);
    const cudnnStatus_t st = cudnnFindConvolutionBackwardDataAlgorithmEx(
        cudnn_.get(), d.w.get(), w.raw(), d.y.get(), dy.raw(), d.conv.get(), d.x.get(), dx_scratch.raw(),
        static_cast<int>(perf.size()), &n, perf.data(), ws, limit);
    if (st != CUDNN_STATUS_SUCCESS || !pick(perf.data(), n, fma_only, deterministic_, a.algo, a.math, a.workspace)) {
      CBEDNET_CUDNN(
          op, cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn_.get(), d.w.get(), d.y.get(), d.conv.get(), d.x.get(),
                                                          static_cast<int>(perf.size()), &n, perf.data()));
      if (!pick(perf.data(), n, fma_only, deterministic_, a.algo, a.math, a.workspace))
        throw_error<BackendError>("cuda backend, ", op, ": cuDNN has no algorithm for dy ", dy.describe(), ", w ",
                                  w.describe(), ", dx ", dx.describe());
    }
    it = conv_algos_.emplace(key, a).first;
    note_conv_api('D', dy, w, dx, g, "legacy");
  }
  const ConvAlgo& a = it->second;
  CBEDNET_CUDNN(op, cudnnSetConvolutionMathType(d.conv.get(), a.math));
  const float one = 1.0f, beta = mode == GradMode::accumulate ? 1.0f : 0.0f;
  CBEDNET_CUDNN(op, cudnnConvolutionBackwardData(cudnn_.get(), &one, d.w.get(), w.raw(), d.y.get(), dy.raw(),
                                                 d.conv.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo),
                                                 workspace(a.workspace, op), a.workspace, &beta, d.x.get(), dx.raw()));
}

void CudaBackend::do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                                            const ConvGeometry& g, GradMode mode) {
  const char* op = "conv2d_backward_filter";
  if (pad_channels(x)) {
    // The padded filter gradient starts at zero and is accumulated onto, so that dbias follows `mode`.
    Tensor dw_padded = scratch(padded_channels(dw.shape()), dw.dtype(), dw.layout(), op);
    cuda::fill(view_of(dw_padded), 0.0, stream_.get(), op);
    do_conv2d_backward_filter(channels_padded(x, op), dy, dw_padded, dbias, g, mode);
    copy_channels(view_of(dw_padded), view_of(dw), mode == GradMode::accumulate, stream_.get(), op);
    return;
  }
  if (!use_conv_graph() || !conv_graph_run('W', dy, x, dw, g, mode, op))
    legacy_conv_backward_filter(x, dy, dw, g, mode);
  if (dbias) {
    const View src = view_of(dy);
    const std::shared_ptr<Allocation> partial = alloc_->allocate(channel_sum_scratch_bytes(src), op);
    channel_sum(src, partial->data(), view_of(*dbias), mode == GradMode::accumulate, stream_.get(), op);
  }
}

void CudaBackend::legacy_conv_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, const ConvGeometry& g,
                                              GradMode mode) {
  const char* op = "conv2d_backward_filter";
  const bool fma_only = precision_ == Precision::fp32;
  ConvDescs d = make_descs(x, dw, dy, g, conv_math(), op);
  const std::string key = conv_key('W', x, dw, dy, g);
  auto it = conv_algos_.find(key);
  if (it == conv_algos_.end()) {
    ConvAlgo a;
    std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perf{};
    int n = 0;
    // The search writes its output: use scratch, dw may hold gradients being accumulated.
    Tensor dw_scratch = scratch(dw.shape(), dw.dtype(), dw.layout(), op);
    const std::size_t limit = conv_search_workspace_limit();
    void* ws = workspace(limit, op);
    const cudnnStatus_t st = cudnnFindConvolutionBackwardFilterAlgorithmEx(
        cudnn_.get(), d.x.get(), x.raw(), d.y.get(), dy.raw(), d.conv.get(), d.w.get(), dw_scratch.raw(),
        static_cast<int>(perf.size()), &n, perf.data(), ws, limit);
    if (st != CUDNN_STATUS_SUCCESS || !pick(perf.data(), n, fma_only, deterministic_, a.algo, a.math, a.workspace)) {
      CBEDNET_CUDNN(
          op, cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn_.get(), d.x.get(), d.y.get(), d.conv.get(), d.w.get(),
                                                            static_cast<int>(perf.size()), &n, perf.data()));
      if (!pick(perf.data(), n, fma_only, deterministic_, a.algo, a.math, a.workspace))
        throw_error<BackendError>("cuda backend, ", op, ": cuDNN has no algorithm for x ", x.describe(), ", dy ",
                                  dy.describe(), ", dw ", dw.describe());
    }
    it = conv_algos_.emplace(key, a).first;
    note_conv_api('W', dy, x, dw, g, "legacy");
  }
  const ConvAlgo& a = it->second;
  CBEDNET_CUDNN(op, cudnnSetConvolutionMathType(d.conv.get(), a.math));
  const float one = 1.0f, beta = mode == GradMode::accumulate ? 1.0f : 0.0f;
  CBEDNET_CUDNN(
      op, cudnnConvolutionBackwardFilter(cudnn_.get(), &one, d.x.get(), x.raw(), d.y.get(), dy.raw(), d.conv.get(),
                                         static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo),
                                         workspace(a.workspace, op), a.workspace, &beta, d.w.get(), dw.raw()));
}

}  // namespace cbednet::cuda
