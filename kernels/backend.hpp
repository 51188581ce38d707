// Backend: the narrow set of operations that layers need, implemented once per device and precision.
//
//   kernels/cpu/reference_backend  fp64, plain loops, obviously correct: the oracle for everything else
//   kernels/cpu/cpu_backend        fast fp32 (and fp64) through im2col + OpenBLAS GEMM and OpenMP
//   kernels/cuda/                  cuDNN, cuBLAS(Lt) and CUDA kernels; fp32, tf32, bf16, fp16
//
// Legend (used in every shape comment): N batch, C input channels, K output channels / classes,
// H,W input height and width, P,Q output height and width, R,S filter height and width.
// Shapes are logical (N, C, H, W) whatever the memory layout; a matrix [rows, cols] is (rows, cols, 1, 1)
// and a per-channel vector [C] is (1, C, 1, 1).
//
// Conventions:
// * Outputs are preallocated by the caller with the right shape, dtype and layout; every operation checks
//   shapes and throws ShapeError naming the operation and the shapes. The checks live in one place
//   (kernels/op_checks.hpp, run by Backend's public operations), the same for every backend.
// * Activation gradients are overwritten. Parameter gradients follow the GradMode argument, so that a pipeline
//   stage can accumulate over micro-batches (tiny-cuda-nn's GradientMode, llm.c's "+=" rule made explicit).
// * Activations and conv/linear weights are in dtype(); batch-norm parameters and statistics, and the
//   master parameters the optimizer updates, are in param_dtype() (fp32 on GPUs, like cuDNN wants).
// * Labels are i32 class indices 0..K-1 with shape (N, 1, 1, 1).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.hpp"
#include "core/tensor.hpp"

namespace cbednet {

enum class GradMode : std::uint8_t { overwrite, accumulate };
enum class Activation : std::uint8_t { none, relu };

// Convolution geometry: square stride and zero padding (the same for both spatial axes), no dilation.
struct ConvGeometry {
  int kernel_h = 1, kernel_w = 1;
  int stride = 1;
  int pad = 0;
  // Output shape (N, out_channels, P, Q) for input x; throws ShapeError if the output would be empty.
  Shape output_shape(const Shape& x, std::int64_t out_channels) const;
};

// Pooling geometry (max pooling; padded positions never win).
struct PoolGeometry {
  int kernel = 2;
  int stride = 2;
  int pad = 0;
  Shape output_shape(const Shape& x) const;
};

// Hyper-parameters of one SGD update (PyTorch semantics, dampening 0):
//   g = grad_scale * grad + weight_decay * param;  v = momentum * v + g;
//   param -= lr * (nesterov ? g + momentum * v : v)
struct SgdUpdate {
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool nesterov = false;
  double grad_scale = 1.0;  // e.g. 1 / loss scale
};

// A run [offset, offset + count) of a flat buffer (elements), as core/model/ParamStore lays parameters out: the
// flat-buffer operations below touch only the elements of their segments (never the alignment padding between
// them). Segments are in ascending order and do not overlap. `decayed`: sgd_update_segments applies the update's
// weight decay there (conv and linear weights), none elsewhere.
struct FlatSegment {
  std::int64_t offset = 0;
  std::int64_t count = 0;
  bool decayed = false;
};

// Where dropout draws its mask: element e of global sample s at step t uses stream.uniform(t, s * per_sample + e),
// so masks do not depend on how the batch is split across ranks or micro-batches.
struct DropoutKey {
  RandomStream stream{0, RngPurpose::dropout};
  std::uint64_t step = 0;
  std::int64_t first_sample = 0;  // global index of the batch's first sample
};

// A training batch norm followed by ReLU as the fused convolutions see it (the MLPerf "NormConvolution" pattern,
// docs/architecture.md "Fused batch norm"): the layer's parameters, the micro-batch statistics batchnorm_finalize
// derived, and the per-channel affine map they amount to, so that relu(bn(x)) = relu(x * scale + bias). All [C] in
// param_dtype().
struct NormRelu {
  const Tensor& gamma;
  const Tensor& beta;
  const Tensor& mean;
  const Tensor& invstd;  // 1 / sqrt(biased var + eps)
  const Tensor& scale;   // gamma * invstd
  const Tensor& bias;    // beta - mean * scale
};

// What one backend accepts, for the shared checks of kernels/op_checks.hpp: activations and conv/linear
// weights in `act`, batch-norm parameters, statistics, loss outputs and optimizer state in `param`, labels in
// i32, every tensor on `device`; NHWC tensors only when allow_nhwc (a tensor with C == 1 or H*W == 1 is the same
// in both layouts). `backend` names it in messages.
struct TensorRules {
  DType act = DType::f64;
  DType param = DType::f64;
  Device device = Device::host;
  bool allow_nhwc = true;
  const char* backend = "cpu";
};

// Work recorded once by Backend::capture and run again by replay() (a CUDA graph on the CUDA backend). Owns what
// the recorded work needs from the backend (the device memory it was recorded with); destroy it before the backend.
class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
  // Queues the recorded work again, on the backend's stream, in order with the backend's other work: it reads and
  // writes the same device addresses it was recorded with (so tensors allocated inside the recorded work, e.g. its
  // output, hold the new results once the work completes). Asynchronous like any backend operation.
  virtual void replay() = 0;
};

// The operations are public and non-virtual (tiny-cuda-nn's forward/forward_impl): each runs the checks of
// kernels/op_checks.hpp against rules() and only then calls the backend's do_<operation>. So every backend
// rejects the same calls with the same message, and an implementation sees only arguments that passed.
class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu-reference", "cpu", "cuda"
  virtual Device device() const = 0;
  virtual DType dtype() const = 0;        // activations, conv and linear weights
  virtual DType param_dtype() const = 0;  // master parameters, batch-norm parameters and statistics
  virtual Layout layout() const = 0;      // activation layout this backend is fastest in
  virtual TensorRules rules() const = 0;  // what the operations accept (checked before do_<operation>)
  // What a benchmark report should say about the device: (key, JSON value) pairs, e.g. the card, library versions
  // and peak memory of a GPU backend. None by default.
  virtual std::vector<std::pair<std::string, std::string>> device_facts() const { return {}; }

  // ---- recording work for replay ------------------------------------------------------------------------
  // Records `work` (a sequence of this backend's operations) for cheap replay, or returns nullptr when this backend
  // cannot (the default: the CPU backends, ProfilingBackend, which needs each operation eagerly); callers then run
  // `work` eagerly themselves. The contract on a capturing backend (CUDA: kernels/cuda/cuda_graph.hpp):
  // * `work` is recorded, NOT executed: its device results exist only after the first replay(). Host-side effects
  //   of `work` (tensors it assigns, caches it fills) do happen, once.
  // * `work` must not read device results back to the host or synchronise; run every first-use search (cuDNN
  //   algorithm finds, autotuning) in an eager run before capturing.
  // * Every device allocation made while recording, and every block freed while recording, stays reserved for the
  //   CapturedWork's lifetime, so replays write the same addresses and nothing else is handed them; tensors
  //   allocated inside `work` and still alive keep their memory after the CapturedWork dies.
  // * A failed capture (an operation the device cannot record) prints one notice on stderr and returns nullptr,
  //   leaving the backend usable; any other exception from `work` ends the recording, discards it and propagates.
  virtual std::unique_ptr<CapturedWork> capture(const std::function<void()>& work);

  // ---- memory -------------------------------------------------------------------------------------------
  // Zero-filled tensor on this backend's device.
  virtual Tensor allocate(Shape shape, DType dtype, Layout layout) = 0;
  Tensor allocate(Shape shape) { return allocate(shape, dtype(), layout()); }
  // dst = src, converting dtype and layout and crossing host/device as needed. Shapes must match.
  virtual void copy(const Tensor& src, Tensor& dst) = 0;
  // dst (on this backend) = host_src, allowed to overlap work already queued; work queued afterwards sees the
  // data. The CUDA backend uses a copy stream; the default is copy().
  virtual void upload_async(const Tensor& host_src, Tensor& dst) { copy(host_src, dst); }
  virtual void fill(Tensor& t, double value) = 0;
  // y += alpha * x (same shape, dtype and layout).
  virtual void axpy(double alpha, const Tensor& x, Tensor& y) = 0;
  // t *= alpha
  virtual void scale(Tensor& t, double alpha) = 0;
  // Waits for all queued work (a no-op on the CPU).
  virtual void synchronize() = 0;
  // Whether every element is finite (no NaN, no infinity). The default copies to the host; devices override it.
  virtual bool all_finite(const Tensor& t);

  // ---- convolution: x [N,C,H,W], w [K,C,R,S], y [N,K,P,Q], bias [K] --------------------------------------
  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const ConvGeometry& g);
  // dx (+)= conv_transpose(dy, w). Accumulating lets a residual block add its branch's gradient to the shortcut's
  // in the same pass (cuDNN's beta = 1) instead of a separate addition over the activation.
  void conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g, GradMode mode);
  // dw (+)= correlation of x and dy; dbias (+)= sum of dy over N,P,Q when given.
  void conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias, const ConvGeometry& g,
                              GradMode mode);
  // y = act( conv(x, w) + bias [+ residual] ): a convolution with the batch norm after it folded into w and bias
  // (inference, core/model/batchnorm_fold.hpp), the residual add and ReLU of a block's end included. One pass where
  // the backend fuses it (the CPU backend's epilogue, cuDNN's); the default is conv2d_forward with the bias, then
  // add and ReLU in place over y.
  void conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                               Activation act, Tensor& y, const ConvGeometry& g);

  // ---- batch norm (per channel over N,H,W), with optional fused residual add and ReLU -----------------------
  //   y = act( gamma * (x - mean) * invstd + beta [+ residual] ),   invstd = 1 / sqrt(var_biased + eps)
  // Training: mean [C] and var [C] are the batch statistics (var unbiased: divided by N*H*W - 1, the
  // convention of running averages); invstd [C] is saved for backward. Inference uses running_mean/var.
  void batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor* residual,
                                  Activation act, double eps, Tensor& y, Tensor& mean, Tensor& var, Tensor& invstd);
  void batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                   const Tensor& running_var, const Tensor* residual, Activation act, double eps,
                                   Tensor& y);
  // Backward of the training forward. y is the forward output (for the ReLU mask). dx is overwritten;
  // dresidual (when the forward had a residual) is overwritten with the gradient reaching the residual input;
  // dgamma/dbeta follow mode.
  void batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma, const Tensor& beta,
                          const Tensor& mean, const Tensor& invstd, Activation act, Tensor& dx, Tensor* dresidual,
                          Tensor& dgamma, Tensor& dbeta, GradMode mode);

  // ---- fused batch norm for training (the MLPerf pattern; core/model/resnet_blocks.cpp's fused path) ---------
  // Each batch norm's statistics come out of the convolution before it, and its normalisation and ReLU are applied
  // inside the convolution after it, so the normalised activation is never written. The defaults below compose the
  // operations above (correct everywhere, no faster); a backend overrides them with fused kernels (cuDNN graphs).
  //
  // y = conv(T(x), w) with T(x) = relu(x * input.scale + input.bias) per input channel when `input` is given (the
  // batch norm and ReLU before the convolution, applied as it reads x) and T(x) = x otherwise; and the per-channel
  // sums of y and of y squared over N,P,Q (cuDNN's genstats). sum, sqsum [K] in param_dtype() (overwritten).
  void conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y, Tensor& sum,
                            Tensor& sqsum, const ConvGeometry& g);
  // From the sums of `count` values per channel: mean = sum / count, biased var = sqsum / count - mean^2 (at least
  // 0), invstd = 1 / sqrt(biased var + eps), var = the unbiased variance (batchnorm_forward_training's var),
  // scale = gamma * invstd, bias = beta - mean * scale. When given, step_mean_sum += mean and step_var_sum += var
  // (a BatchNorm's per-step accumulators, so that no separate additions are needed). All [C] in param_dtype().
  void batchnorm_finalize(const Tensor& sum, const Tensor& sqsum, std::int64_t count, const Tensor& gamma,
                          const Tensor& beta, double eps, Tensor& scale, Tensor& bias, Tensor& mean, Tensor& var,
                          Tensor& invstd, Tensor* step_mean_sum, Tensor* step_var_sum);
  // y = act( x * scale + bias [+ residual'] ) per channel, residual' = residual * residual_scale + residual_bias
  // when those are given (a projection shortcut's batch norm) and residual otherwise: a block's last batch norm, its
  // residual add and ReLU in one pass. scale, bias, residual_scale, residual_bias [C] in param_dtype().
  void scale_bias_act_forward(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor* residual,
                              const Tensor* residual_scale, const Tensor* residual_bias, Activation act, Tensor& y);
  // dw (+)= correlation of T(x) = relu(x * input.scale + input.bias) and dy: conv2d_backward_filter of a
  // convolution that conv2d_stats_forward ran with `input`.
  void conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy, Tensor& dw,
                                        const ConvGeometry& g, GradMode mode);
  // The gradient from a convolution's output back through the convolution, the ReLU and the training batch norm in
  // front of it (whose input was x): dz = conv_transpose(dy, w) * (x * input.scale + input.bias > 0), then
  // dgamma (+)= sum of dz * (x - mean) * invstd, dbeta (+)= sum of dz, and dx (overwritten) the batch norm's input
  // gradient, exactly as batchnorm_backward computes it from dz.
  void conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x, const NormRelu& input,
                                      Tensor& dx, Tensor& dgamma, Tensor& dbeta, const ConvGeometry& g, GradMode mode);

  // ---- elementwise ---------------------------------------------------------------------------------------
  void relu_forward(const Tensor& x, Tensor& y);
  void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx);  // dx = dy * (y > 0)
  void add(const Tensor& a, const Tensor& b, Tensor& y);              // y = a + b
  // y = x * mask, mask[i] = (u >= p) / (1 - p) with u drawn as DropoutKey says; mask is kept for backward.
  void dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask);
  void dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx);  // dx = dy * mask

  // ---- pooling -------------------------------------------------------------------------------------------
  void maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g);
  // The gradient of each output goes to the first maximum of its window (row-major order).
  void maxpool_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, const PoolGeometry& g);
  void global_avgpool_forward(const Tensor& x, Tensor& y);     // x [N,C,H,W] -> y [N,C,1,1]
  void global_avgpool_backward(const Tensor& dy, Tensor& dx);  // dy [N,C,1,1] -> dx [N,C,H,W]

  // ---- fully connected: x [N,C,1,1], w [K,C,1,1], b [K], y [N,K,1,1] --------------------------------------
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y);
  void linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx);  // dx = dy w
  void linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                               GradMode mode);  // dw (+)= dy^T x, db (+)= sum_n dy

  // ---- loss: softmax cross-entropy with label smoothing eps and optional class weights ---------------------
  //   q = (1 - eps) onehot(label) + eps / K;   loss_n = w[label_n] * sum_k -q_k log p_k
  // logits [N,K,1,1] (dtype()), labels [N,1,1,1] i32, class_weights [K] (param_dtype) or null,
  // probs [N,K,1,1] and losses [N,1,1,1] in param_dtype().
  void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor* class_weights,
                                     double label_smoothing, Tensor& probs, Tensor& losses);
  // dlogits = scale * w[label_n] * (p - q)   (scale is 1 / global batch size; overwritten)
  void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor* class_weights,
                                      double label_smoothing, double scale, Tensor& dlogits);
  // stats [1,2,1,1] (param_dtype) += (sum of losses, number of samples n whose FIRST largest probs[n,:] is
  // labels[n]): a step's loss statistics accumulated on the device, so that a training step need not read each
  // micro-batch's losses and probabilities back (core/model/training_graph.hpp records such a step). probs
  // [N,K,1,1] and losses [N,1,1,1] as softmax_cross_entropy_forward writes them; labels [N,1,1,1] i32. The losses
  // are added in sample order. The default downloads, adds on the host and uploads; devices override it.
  void loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels, Tensor& stats);

  // ---- optimizer -----------------------------------------------------------------------------------------
  // param, grad and momentum are param_dtype() and have the same shape.
  void sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h);
  // The same update over the segments of three flat buffers of equal shape in one operation (one kernel launch on
  // a GPU) instead of one call per parameter: each element is updated exactly as sgd_update would, with
  // h.weight_decay on decayed segments and 0 on the others. Elements outside the segments are left alone.
  void sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum, std::span<const FlatSegment> segments,
                           const SgdUpdate& h);

  // ---- flat buffers --------------------------------------------------------------------------------------
  // dst = src (converting the dtype, as copy() does) on the segments of two flat buffers of equal shape and layout:
  // the mixed-precision master -> compute weight refresh and compute -> master gradient gather in one operation.
  void copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments);
  // running = (1 - momentum) running + (momentum / micro_batches) sums, then sums = 0: the batch-norm running
  // statistics of a step from the sums of its micro-batch statistics, for every layer at once when given a
  // ParamStore's flat buffers (running and sums param_dtype(), equal shapes). Bit for bit what scale(running,
  // 1 - momentum), axpy(momentum / micro_batches, sums, running) and fill(sums, 0) give, which is also the default
  // implementation; the CUDA backend does it in one launch.
  void fold_running_statistics(Tensor& running, Tensor& sums, double momentum, double micro_batches);

 protected:
  // ---- implementations, called after the shared checks (kernels/op_checks.hpp) passed ---------------------
  virtual void do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                                 const ConvGeometry& g) = 0;
  virtual void do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                                       GradMode mode) = 0;
  virtual void do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                                         const ConvGeometry& g, GradMode mode) = 0;
  virtual void do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                                          Activation act, Tensor& y, const ConvGeometry& g);
  virtual void do_batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                             const Tensor* residual, Activation act, double eps, Tensor& y,
                                             Tensor& mean, Tensor& var, Tensor& invstd) = 0;
  virtual void do_batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                              const Tensor& running_mean, const Tensor& running_var,
                                              const Tensor* residual, Activation act, double eps, Tensor& y) = 0;
  virtual void do_batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                                     const Tensor& beta, const Tensor& mean, const Tensor& invstd, Activation act,
                                     Tensor& dx, Tensor* dresidual, Tensor& dgamma, Tensor& dbeta, GradMode mode) = 0;
  virtual void do_conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y, Tensor& sum,
                                       Tensor& sqsum, const ConvGeometry& g);
  virtual void do_batchnorm_finalize(const Tensor& sum, const Tensor& sqsum, std::int64_t count, const Tensor& gamma,
                                     const Tensor& beta, double eps, Tensor& scale, Tensor& bias, Tensor& mean,
                                     Tensor& var, Tensor& invstd, Tensor* step_mean_sum, Tensor* step_var_sum);
  virtual void do_scale_bias_act_forward(const Tensor& x, const Tensor& scale, const Tensor& bias,
                                         const Tensor* residual, const Tensor* residual_scale,
                                         const Tensor* residual_bias, Activation act, Tensor& y);
  virtual void do_conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy, Tensor& dw,
                                                   const ConvGeometry& g, GradMode mode);
  virtual void do_conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                 const NormRelu& input, Tensor& dx, Tensor& dgamma, Tensor& dbeta,
                                                 const ConvGeometry& g, GradMode mode);
  virtual void do_relu_forward(const Tensor& x, Tensor& y) = 0;
  virtual void do_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) = 0;
  virtual void do_add(const Tensor& a, const Tensor& b, Tensor& y) = 0;
  virtual void do_dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) = 0;
  virtual void do_dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) = 0;
  virtual void do_maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) = 0;
  virtual void do_maxpool_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                                   const PoolGeometry& g) = 0;
  virtual void do_global_avgpool_forward(const Tensor& x, Tensor& y) = 0;
  virtual void do_global_avgpool_backward(const Tensor& dy, Tensor& dx) = 0;
  virtual void do_linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) = 0;
  virtual void do_linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) = 0;
  virtual void do_linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db, GradMode mode) = 0;
  virtual void do_softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor* class_weights,
                                                double label_smoothing, Tensor& probs, Tensor& losses) = 0;
  virtual void do_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor* class_weights,
                                                 double label_smoothing, double scale, Tensor& dlogits) = 0;
  virtual void do_loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels, Tensor& stats);
  virtual void do_sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) = 0;
  virtual void do_sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                                      std::span<const FlatSegment> segments, const SgdUpdate& h) = 0;
  virtual void do_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) = 0;
  virtual void do_fold_running_statistics(Tensor& running, Tensor& sums, double momentum, double micro_batches);
};

// Which backend to build. device: "cpu", "cpu-reference" or "cuda"; precision: fp64, fp32, tf32, bf16, fp16.
struct BackendOptions {
  std::string device = "cpu";
  std::string precision = "fp32";
  int cuda_device = -1;  // -1: chosen from the local rank
  int threads = 0;       // CPU threads; 0: OpenMP's default
  // cuda: only deterministic convolution algorithms (bitwise equal runs). false lets cuDNN use the fastest,
  // some of which add in a varying order.
  bool deterministic = true;
  // cuda: convolutions through cuDNN's legacy API, its graph API (cudnn-frontend), or auto (today legacy).
  std::string conv_api = "auto";
};

// Throws InvalidArgument naming the option for an unknown device, an unsupported precision, or a CUDA
// request in a build without CUDA.
std::unique_ptr<Backend> make_backend(const BackendOptions& options);

}  // namespace cbednet
