// CudaBackend: the Backend of kernels/backend.hpp on one CUDA device (internal header; users include
// cuda_backend.hpp). Implementation split by concern:
//   cuda_backend.cpp     construction, handles, memory, copy, elementwise/pool/loss/optimizer dispatch
//   conv_cudnn.cpp       convolutions (cuDNN legacy API, algorithm cache), and the choice of API per call
//   conv_graph.cpp       convolutions through cuDNN's graph API (cudnn-frontend), graph cache, autotune, and the
//                        fused convolution + bias (+ residual) (+ ReLU) graph of conv2d_bias_act_forward
//   batchnorm_cudnn.cpp  batch norm (cuDNN *Ex fused BN + ReLU (+ add) in NHWC, fallback to plain BN + kernel)
//   fused_norm_cudnn.cpp the fused batch norm for training (MLPerf pattern): the fused cuDNN graphs of
//                        conv_fused_graph.cpp under --conv-api graph, else the device kernels of fused_norm.cu
//   linear_cublas.cpp    fully connected layers (cublasGemmEx)
//   cuda_graph.cpp       capture(): stream capture into a CUDA graph, replayed by CudaGraphWork
// All work is queued on one compute stream; copy() uploads through pinned staging buffers.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "kernels/backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_handles.hpp"
#include "kernels/cuda/device_allocator.hpp"
#include "kernels/cuda/kernels.hpp"

namespace cudnn_frontend::graph {
class Graph;  // conv_graph_support.hpp: only the graph-API files include cudnn-frontend
}

namespace cbednet::cuda {

enum class Precision : std::uint8_t { fp32, tf32, bf16, fp16 };
// --precision's names (fp32, tf32, bf16, fp16; also f32 and f16); nullopt for any other.
std::optional<Precision> parse_precision(const std::string& name);
// The dtype of activations and filters in a precision mode (TF32 computes on fp32 data).
constexpr DType compute_dtype(Precision p) {
  return p == Precision::bf16 ? DType::bf16 : p == Precision::fp16 ? DType::f16 : DType::f32;
}

// Tensor-core engines want channel counts that are multiples of 8: 16-bit NHWC operands with other counts (the
// stem's 3) are padded for the plain convolutions and keep the fused batch-norm operations on their kernels
// (CudaBackend::pad_channels; graph_plan_check.cpp maps calls to graphs by the same rule).
constexpr bool wants_channel_padding(DType dtype, Layout layout, std::int64_t channels) {
  return layout == Layout::nhwc && (dtype == DType::bf16 || dtype == DType::f16) && channels % 8 != 0;
}
// The shape with its channel count rounded up to that multiple of 8.
constexpr Shape padded_channels(Shape s) {
  s.c = (s.c + 7) / 8 * 8;
  return s;
}

// Page-locked host buffer for staging copies; grows, never shrinks.
class PinnedBuffer {
 public:
  void* reserve(std::size_t bytes, const char* op);
  std::size_t capacity() const { return capacity_; }

 private:
  Unique<void*, cudaFreeHost> ptr_;
  std::size_t capacity_ = 0;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, Precision precision, bool deterministic = true);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda"; }
  Device device() const override { return Device::cuda; }
  DType dtype() const override { return dtype_; }
  DType param_dtype() const override { return DType::f32; }
  Layout layout() const override { return Layout::nhwc; }
  // Device tensors in either layout (operands in another layout than the output are converted on the fly).
  TensorRules rules() const override { return {dtype_, DType::f32, Device::cuda, true, "cuda"}; }
  // card, compute capability, CUDA runtime/driver, cuDNN, cuBLAS and NCCL versions, peak and reserved GiB.
  std::vector<std::pair<std::string, std::string>> device_facts() const override;

  Tensor allocate(Shape shape, DType dtype, Layout layout) override;
  using Backend::allocate;
  void copy(const Tensor& src, Tensor& dst) override;
  void fill(Tensor& t, double value) override;
  void axpy(double alpha, const Tensor& x, Tensor& y) override;
  void scale(Tensor& t, double alpha) override;
  void synchronize() override;
  // Stream capture into a CUDA graph (cuda_graph.cpp): the recorded work's allocations come from a private pool of
  // the caching allocator, kept for the returned CudaGraphWork's lifetime.
  std::unique_ptr<CapturedWork> capture(const std::function<void()>& work) override;

  // ---- beyond Backend -----------------------------------------------------------------------------------
  bool all_finite(const Tensor& t) override;
  CudaMemoryStats memory_stats() const { return alloc_->stats(); }
  // Host-to-device copy on the copy stream: returns once the data is staged; later work on the compute stream
  // waits for the transfer (an event), so the transfer overlaps compute already queued.
  void upload_async(const Tensor& host_src, Tensor& dst) override;
  cudaStream_t stream() const { return stream_.get(); }
  Precision precision() const { return precision_; }

 protected:
  // The operations, after the shared checks of kernels/op_checks.hpp passed; what remains here is what only the
  // CUDA libraries impose (cuDNN's equal dtypes and layouts, cuBLAS's int dimensions).
  void do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                         const ConvGeometry& g) override;
  // conv2d_forward without bias, then one epilogue kernel (bias, residual, ReLU in one pass over y); with
  // --conv-api graph first one fused cuDNN graph (conv_graph.cpp).
  void do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                                  Activation act, Tensor& y, const ConvGeometry& g) override;
  void do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                               GradMode mode) override;
  void do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias, const ConvGeometry& g,
                                 GradMode mode) override;

  void do_batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor* residual,
                                     Activation act, double eps, Tensor& y, Tensor& mean, Tensor& var,
                                     Tensor& invstd) override;
  void do_batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                      const Tensor& running_mean, const Tensor& running_var, const Tensor* residual,
                                      Activation act, double eps, Tensor& y) override;
  void do_batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                             const Tensor& beta, const Tensor& mean, const Tensor& invstd, Activation act, Tensor& dx,
                             Tensor* dresidual, Tensor& dgamma, Tensor& dbeta, GradMode mode) override;

  // ---- fused batch norm for training (fused_norm_cudnn.cpp) ----
  // Under --conv-api graph the convolutions with their batch-norm parts as fused cuDNN graphs (conv_fused_graph.cpp);
  // otherwise, or for a shape cuDNN refused, the convolution as conv2d_* runs it and the kernels of fused_norm.cu
  // (no host round trip, fixed-order reductions). Compiled only: never run on a GPU yet.
#include "kernels/fused_norm_overrides.inc"

  void do_relu_forward(const Tensor& x, Tensor& y) override;
  void do_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void do_add(const Tensor& a, const Tensor& b, Tensor& y) override;
  void do_dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) override;
  void do_dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) override;

  void do_maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) override;
  void do_maxpool_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                           const PoolGeometry& g) override;
  void do_global_avgpool_forward(const Tensor& x, Tensor& y) override;
  void do_global_avgpool_backward(const Tensor& dy, Tensor& dx) override;

  void do_linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) override;
  void do_linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) override;
  void do_linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db, GradMode mode) override;

  void do_softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor* class_weights,
                                        double label_smoothing, Tensor& probs, Tensor& losses) override;
  void do_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor* class_weights,
                                         double label_smoothing, double scale, Tensor& dlogits) override;
  void do_loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels, Tensor& stats) override;

  void do_sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) override;
  // ---- flat buffers (cuda_backend.cpp): one launch per kSegmentsPerLaunch segments (kernels.hpp) ----
  void do_sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                              std::span<const FlatSegment> segments, const SgdUpdate& h) override;
  void do_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) override;
  void do_fold_running_statistics(Tensor& running, Tensor& sums, double momentum, double micro_batches) override;

 private:
  // Uninitialised device tensor from the caching allocator (scratch and temporaries).
  Tensor scratch(Shape shape, DType dtype, Layout layout, const char* op);
  // The shared cuDNN/cuBLAS workspace, grown to at least `bytes` (stream order makes sharing safe).
  void* workspace(std::size_t bytes, const char* op);
  // t itself when it already has `layout`, else a converted scratch copy.
  Tensor in_layout(const Tensor& t, Layout layout, const char* op);
  void upload(const void* host, std::size_t bytes, void* device_dst, const char* op);
  void download(const void* device_src, std::size_t bytes, void* host_dst, const char* op);

  // conv_cudnn.cpp
  struct ConvAlgo {
    int algo = 0;
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    std::size_t workspace = 0;
  };
  cudnnMathType_t conv_math() const;
  // 16-bit NHWC convolutions whose input channels are not a multiple of 8 (the 3-channel stem) run on copies
  // zero-padded to the next multiple: cuDNN's tensor-core kernels want 8 (CBEDNET_CUDNN_CHANNEL_PAD=0: off).
  bool pad_channels(const Tensor& x) const;
  Tensor channels_padded(const Tensor& t, const char* op);
  // batchnorm_cudnn.cpp: the reserve space of a fused forward, found again by its output y in backward.
  struct BnSaved {
    std::weak_ptr<Allocation> y_storage;
    const void* x = nullptr;
    std::shared_ptr<Allocation> reserve;
    std::size_t reserve_bytes = 0;
    int ops = 0;  // cudnnBatchNormOps_t
    double eps = 0.0;
  };
  void purge_bn_saved();

  int device_;
  Precision precision_;
  bool deterministic_ = true;
  bool pad_conv_channels_ = true;
  DType dtype_;
  std::shared_ptr<DeviceAllocator> alloc_;
  StreamHandle stream_;
  StreamHandle copy_stream_;
  EventHandle staging_done_;  // the pinned staging buffer is free again
  EventHandle upload_done_;   // the last upload_async finished
  EventHandle compute_mark_;  // recorded on the compute stream before an async upload
  CudnnHandle cudnn_;
  CublasHandle cublas_;
  PinnedBuffer staging_;
  PinnedBuffer upload_staging_;
  std::shared_ptr<Allocation> workspace_;
  std::shared_ptr<Allocation> cublas_workspace_;
  std::shared_ptr<Allocation> finite_flag_;
  std::map<std::string, ConvAlgo> conv_algos_;  // key: direction, shapes, dtypes, layouts, geometry
  std::map<std::pair<const Allocation*, std::size_t>, BnSaved> bn_saved_;  // key: y's storage and offset
  std::map<std::string, bool> bn_fused_ok_;  // key: ops, shape, dtype; false once cuDNN refused the fused call
  double bn_last_eps_ = 1e-5;

  // ---- convolution API choice (conv_cudnn.cpp) and graph-API convolutions (conv_graph.cpp) ----------------
 public:
  // --conv-api: legacy (cudnnConvolution*), graph (cuDNN graph API through cudnn-frontend; a layer whose graph the
  // frontend refuses runs on the legacy API) or automatic (today: legacy, see use_conv_graph()).
  enum class ConvApi : std::uint8_t { legacy, graph, automatic };
  static ConvApi parse_conv_api(const std::string& value);  // throws InvalidArgument naming --conv-api
  void set_conv_api(ConvApi api) { conv_api_ = api; }
  ConvApi conv_api() const { return conv_api_; }
  // Which API ran each convolution layer so far: (direction, shapes, dtypes, layouts, geometry) in words ->
  // "graph", "legacy" or "legacy-fallback" (the graph was refused). As JSON for device_facts().
  const std::map<std::string, std::string>& conv_api_ran() const { return conv_api_ran_; }
  std::string conv_layers_json() const;

 private:
  bool use_conv_graph() const;
  // Workspace an algorithm search or autotune may use: 1 GiB, at most a quarter of the free device memory.
  static std::size_t conv_search_workspace_limit();
  // Run the convolution as a cached graph; false when this shape's graph was refused (the caller runs the legacy
  // path). `out` is overwritten, or accumulated onto in GradMode::accumulate.
  bool conv_graph_run(char direction, const Tensor& a, const Tensor& b, Tensor& out, const ConvGeometry& g,
                      GradMode mode, const char* op);
  // y = act(conv(x, w) + bias [+ residual]) as one cached graph (conv_fprop -> add bias -> add residual -> ReLU);
  // false when this shape's fused graph was refused (the caller runs the convolution and the epilogue kernel).
  // residual, when given, is in y's layout.
  bool conv_bias_act_graph_run(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual, bool relu,
                               Tensor& y, const ConvGeometry& g, const char* op);
  // The legacy path's algorithm search and call (beta = 1 accumulates).
  void legacy_conv_forward(const Tensor& x, const Tensor& w, Tensor& y, const ConvGeometry& g);
  void legacy_conv_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g, GradMode mode);
  void legacy_conv_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, const ConvGeometry& g, GradMode mode);
  void note_conv_api(char direction, const Tensor& a, const Tensor& b, const Tensor& out, const ConvGeometry& g,
                     const char* api);
  void note_conv_api(const std::string& layer, const char* api);

  // ---- fused batch-norm graphs (conv_fused_graph.cpp); each false when cuDNN refused this shape's graph (the
  // caller runs the kernels path) ----
  // y = conv(relu(x * scale + bias) or x, w) and the sums of y and y^2 per output channel (genstats).
  bool stats_forward_graph_run(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y, Tensor& sum,
                               Tensor& sqsum, const ConvGeometry& g, const char* op);
  // dw (+)= wgrad(dy, relu(x * scale + bias)).
  bool wgrad_norm_relu_graph_run(const Tensor& x, const NormRelu& input, const Tensor& dy, Tensor& dw,
                                 const ConvGeometry& g, GradMode mode, const char* op);
  // dz = dgrad(dy, w) * (x * scale + bias > 0) into dz (x's shape, dtype and layout), and its per-call sums
  // sum_dz, sum_dzxhat ([1,C,1,1] f32) as cuDNN's dbn_weight gives them (dbias, dscale).
  bool dgrad_norm_relu_graph_run(const Tensor& dy, const Tensor& w, const Tensor& x, const NormRelu& input, Tensor& dz,
                                 Tensor& sum_dz, Tensor& sum_dzxhat, const ConvGeometry& g, const char* op);
  // The graph cached under `key` (built by `build` and autotuned on `operands` the first time) executed on
  // `operands`; false when it was refused (reported once on stderr, `layer` noted as "legacy-fallback").
  bool fused_graph_run(const std::string& key, const std::string& layer,
                       const std::function<std::shared_ptr<cudnn_frontend::graph::Graph>()>& build,
                       std::unordered_map<std::int64_t, void*>& operands, const char* fallback_words, const char* op);
  // fused_norm_cudnn.cpp: relu(x * input.scale + input.bias) materialised in scratch (x's shape, dtype, layout).
  Tensor norm_relu_input(const Tensor& x, const NormRelu& input, const char* op);
  // conv_fused_graph.cpp: the input transform as a fused graph takes it (graph_api::norm_input_dtype): `input` itself,
  // or (engaged) the same with its scale and bias converted into `scale` and `bias` (scratch that must outlive the
  // call).
  std::optional<NormRelu> graph_norm_input(const NormRelu& input, DType activations, Tensor& scale, Tensor& bias,
                                           const char* op);

  struct ConvGraphCache;  // conv_graph_support.hpp: the graphs built with cudnn-frontend, whose headers stay out
  ConvApi conv_api_ = ConvApi::automatic;
  std::shared_ptr<ConvGraphCache> conv_graphs_;  // created on first use
  std::map<std::string, std::string> conv_api_ran_;
};

// Checks of the memory operations (copy, fill, axpy, ...), which the shared checks of kernels/op_checks.hpp do
// not cover: device tensors, equal shapes.
void require_device(const Tensor& t, const char* op, const char* name);
void require_same_shape(const Tensor& a, const Tensor& b, const char* op);

}  // namespace cbednet::cuda
