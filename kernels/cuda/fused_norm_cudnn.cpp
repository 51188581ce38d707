// The fused batch-norm operations for training on the CUDA backend (kernels/backend.hpp, "fused batch norm for
// training"; their exact semantics are the default compositions of kernels/fused_norm_defaults.cpp, which go
// through the host for the per-channel arithmetic). Here nothing leaves the device:
//   --conv-api graph: each convolution with its batch-norm parts is one cached cuDNN graph (conv_fused_graph.cpp);
//   otherwise, or for a shape whose graph cuDNN refused (reported once): the convolution as conv2d_* runs it (the
//   "NormRelu" input transform materialised into scratch first) and the kernels of fused_norm.cu -- genstats and
//   the batch norm's backward sums as fixed-order two-stage reductions (fp64 partials, no atomics), so that
//   repeated runs give the same bits.
// batchnorm_finalize and scale_bias_act_forward are one kernel each on every path.
// 16-bit NHWC inputs whose channels are not a multiple of 8 (the stem) take the kernels path: the plain
// convolutions pad them (conv_cudnn.cpp), the fused graphs would not.
// Compiled and linked only: never run on a GPU yet (docs/gpu-backend.md, "Not done yet").
#include <memory>

#include "kernels/cuda/cuda_backend_impl.hpp"
#include "kernels/cuda/fused_norm_kernels.hpp"

namespace cbednet::cuda {

Tensor CudaBackend::norm_relu_input(const Tensor& x, const NormRelu& input, const char* op) {
  Tensor t = scratch(x.shape(), x.dtype(), x.layout(), op);
  scale_bias_act(view_of(x), view_of(input.scale), view_of(input.bias), nullptr, nullptr, nullptr, true, view_of(t),
                 stream_.get(), op);
  return t;
}

// Shapes, dtypes and devices were checked by Backend::conv2d_stats_forward etc. (kernels/op_checks.hpp).
void CudaBackend::do_conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y,
                                          Tensor& sum, Tensor& sqsum, const ConvGeometry& g) {
  const char* op = "conv2d_stats_forward";
  if (use_conv_graph() && !pad_channels(x) && stats_forward_graph_run(x, input, w, y, sum, sqsum, g, op)) return;
  if (input) {
    do_conv2d_forward(norm_relu_input(x, *input, op), w, nullptr, y, g);
  } else {
    do_conv2d_forward(x, w, nullptr, y, g);
  }
  const View yv = view_of(y);
  const std::shared_ptr<Allocation> partial = alloc_->allocate(channel_stats_scratch_bytes(yv), op);
  channel_stats(yv, partial->data(), view_of(sum), view_of(sqsum), stream_.get(), op);
}

void CudaBackend::do_batchnorm_finalize(const Tensor& sum, const Tensor& sqsum, std::int64_t count, const Tensor& gamma,
                                        const Tensor& beta, double eps, Tensor& scale, Tensor& bias, Tensor& mean,
                                        Tensor& var, Tensor& invstd, Tensor* step_mean_sum, Tensor* step_var_sum) {
  const View step_mean = step_mean_sum ? view_of(*step_mean_sum) : View{};
  const View step_var = step_var_sum ? view_of(*step_var_sum) : View{};
  cuda::batchnorm_finalize(view_of(sum), view_of(sqsum), static_cast<double>(count), view_of(gamma), view_of(beta), eps,
                           view_of(scale), view_of(bias), view_of(mean), view_of(var), view_of(invstd),
                           step_mean_sum ? &step_mean : nullptr, step_var_sum ? &step_var : nullptr, stream_.get(),
                           "batchnorm_finalize");
}

void CudaBackend::do_scale_bias_act_forward(const Tensor& x, const Tensor& scale, const Tensor& bias,
                                            const Tensor* residual, const Tensor* residual_scale,
                                            const Tensor* residual_bias, Activation act, Tensor& y) {
  const char* op = "scale_bias_act_forward";
  // The kernel indexes x and the residual as y.
  const Tensor xs = in_layout(x, y.layout(), op);
  const Tensor r = residual ? in_layout(*residual, y.layout(), op) : Tensor{};
  const View rv = residual ? view_of(r) : View{};
  const View rs = residual_scale ? view_of(*residual_scale) : View{};
  const View rb = residual_bias ? view_of(*residual_bias) : View{};
  scale_bias_act(view_of(xs), view_of(scale), view_of(bias), residual ? &rv : nullptr, residual_scale ? &rs : nullptr,
                 residual_bias ? &rb : nullptr, act == Activation::relu, view_of(y), stream_.get(), op);
}

void CudaBackend::do_conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy,
                                                      Tensor& dw, const ConvGeometry& g, GradMode mode) {
  const char* op = "conv2d_backward_filter_norm_relu";
  if (use_conv_graph() && !pad_channels(x) && wgrad_norm_relu_graph_run(x, input, dy, dw, g, mode, op)) return;
  do_conv2d_backward_filter(norm_relu_input(x, input, op), dy, dw, nullptr, g, mode);
}

// dz = dA * (x * scale + bias > 0) with dA = conv_transpose(dy, w); then per channel sum_dz and sum_dzxhat,
// dgamma (+)= sum_dzxhat, dbeta (+)= sum_dz, and dx = gamma * invstd * (dz - sum_dz / m - xhat * sum_dzxhat / m).
void CudaBackend::do_conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x,
                                                    const NormRelu& input, Tensor& dx, Tensor& dgamma, Tensor& dbeta,
                                                    const ConvGeometry& g, GradMode mode) {
  const char* op = "conv2d_backward_data_norm_relu";
  const bool accumulate = mode == GradMode::accumulate;
  // The elementwise operands share dx's layout (the kernels index them alike).
  const Tensor xs = in_layout(x, dx.layout(), op);
  const View xv = view_of(xs), scale = view_of(input.scale), bias = view_of(input.bias), gamma = view_of(input.gamma),
             mean = view_of(input.mean), invstd = view_of(input.invstd);
  if (use_conv_graph() && !pad_channels(dx)) {
    const Shape channels{1, x.shape().c, 1, 1};
    Tensor dz = scratch(x.shape(), x.dtype(), dx.layout(), op);
    Tensor sum_dz = scratch(channels, DType::f32, Layout::nchw, op);
    Tensor sum_dzxhat = scratch(channels, DType::f32, Layout::nchw, op);
    if (dgrad_norm_relu_graph_run(dy, w, xs, input, dz, sum_dz, sum_dzxhat, g, op)) {
      dbn_apply(view_of(dz), false, xv, scale, bias, gamma, mean, invstd, view_of(sum_dz), view_of(sum_dzxhat),
                view_of(dx), stream_.get(), op);
      accumulate_channel_pairs(view_of(sum_dzxhat), view_of(dgamma), view_of(sum_dz), view_of(dbeta), accumulate,
                               stream_.get(), op);
      return;
    }
  }
  Tensor d_activation = scratch(x.shape(), x.dtype(), dx.layout(), op);
  do_conv2d_backward_data(dy, w, d_activation, g, GradMode::overwrite);
  const View dav = view_of(d_activation);
  const std::shared_ptr<Allocation> sums = alloc_->allocate(dbn_sums_scratch_bytes(xv), op);
  dbn_sums(dav, true, xv, scale, bias, mean, invstd, sums->data(), view_of(dgamma), view_of(dbeta), accumulate,
           stream_.get(), op);
  const DbnTotals totals = dbn_totals(xv, sums->data());
  dbn_apply(dav, true, xv, scale, bias, gamma, mean, invstd, totals.sum_dz, totals.sum_dzxhat, view_of(dx),
            stream_.get(), op);
}

}  // namespace cbednet::cuda
