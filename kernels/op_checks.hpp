// Argument checks for every Backend operation, run by Backend's public operations (kernels/backend_ops.cpp)
// before any backend's implementation, so that every backend rejects the same calls with the same messages:
// "conv2d_forward: w [..] does not match x [..]: expected ...". What differs between backends (dtypes, device,
// layouts) comes in as TensorRules (kernels/backend.hpp).
#pragma once

#include <initializer_list>
#include <utility>

#include "kernels/backend.hpp"

namespace cbednet {

void check_conv2d_forward(const TensorRules& r, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                          const ConvGeometry& g);
// conv2d_forward's checks under this operation's name, the bias required, a residual shaped like y.
void check_conv2d_bias_act_forward(const TensorRules& r, const Tensor& x, const Tensor& w, const Tensor& bias,
                                   const Tensor* residual, const Tensor& y, const ConvGeometry& g);
void check_conv2d_backward_data(const TensorRules& r, const Tensor& dy, const Tensor& w, const Tensor& dx,
                                const ConvGeometry& g);
void check_conv2d_backward_filter(const TensorRules& r, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                  const Tensor* dbias, const ConvGeometry& g);

void check_batchnorm_forward_training(const TensorRules& r, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                      const Tensor* residual, double eps, const Tensor& y, const Tensor& mean,
                                      const Tensor& var, const Tensor& invstd);
void check_batchnorm_forward_inference(const TensorRules& r, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                       const Tensor& running_mean, const Tensor& running_var, const Tensor* residual,
                                       double eps, const Tensor& y);
void check_batchnorm_backward(const TensorRules& r, const Tensor& x, const Tensor& y, const Tensor& dy,
                              const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& invstd,
                              const Tensor& dx, const Tensor* dresidual, const Tensor& dgamma, const Tensor& dbeta);

// The fused batch-norm operations (Backend, "fused batch norm for training"). A NormRelu's six tensors are [C] of
// the tensor it transforms, in the parameter dtype.
void check_conv2d_stats_forward(const TensorRules& r, const Tensor& x, const NormRelu* input, const Tensor& w,
                                const Tensor& y, const Tensor& sum, const Tensor& sqsum, const ConvGeometry& g);
// count >= 2 (an unbiased variance needs two values), eps >= 0, every tensor [C] in the parameter dtype.
void check_batchnorm_finalize(const TensorRules& r, const Tensor& sum, const Tensor& sqsum, std::int64_t count,
                              const Tensor& gamma, const Tensor& beta, double eps, const Tensor& scale,
                              const Tensor& bias, const Tensor& mean, const Tensor& var, const Tensor& invstd,
                              const Tensor* step_mean_sum, const Tensor* step_var_sum);
// residual_scale and residual_bias come together, and only with a residual.
void check_scale_bias_act_forward(const TensorRules& r, const Tensor& x, const Tensor& scale, const Tensor& bias,
                                  const Tensor* residual, const Tensor* residual_scale, const Tensor* residual_bias,
                                  const Tensor& y);
void check_conv2d_backward_filter_norm_relu(const TensorRules& r, const Tensor& x, const NormRelu& input,
                                            const Tensor& dy, const Tensor& dw, const ConvGeometry& g);
void check_conv2d_backward_data_norm_relu(const TensorRules& r, const Tensor& dy, const Tensor& w, const Tensor& x,
                                          const NormRelu& input, const Tensor& dx, const Tensor& dgamma,
                                          const Tensor& dbeta, const ConvGeometry& g);

// Activations of equal shape: op(a, b, ...) -> out. Names and tensors come in pairs.
void check_same_shape(const TensorRules& r, const char* op,
                      std::initializer_list<std::pair<const char*, const Tensor*>> ts);
void check_dropout_forward(const TensorRules& r, const Tensor& x, double p, const Tensor& y, const Tensor& mask);

void check_maxpool_forward(const TensorRules& r, const Tensor& x, const Tensor& y, const PoolGeometry& g);
void check_maxpool_backward(const TensorRules& r, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx,
                            const PoolGeometry& g);
// big [N,C,H,W] and pooled [N,C,1,1], named x/y (forward) or dx/dy (backward).
void check_global_avgpool(const TensorRules& r, const char* op, const char* big_name, const Tensor& big,
                          const char* pooled_name, const Tensor& pooled);

void check_linear_forward(const TensorRules& r, const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y);
void check_linear_backward_data(const TensorRules& r, const Tensor& dy, const Tensor& w, const Tensor& dx);
void check_linear_backward_weights(const TensorRules& r, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                   const Tensor* db);

// Also checks that every label is in 0..K-1 (InvalidArgument naming the sample) when the labels are on the
// host; device labels are not read here (that would be a synchronising download per call): the CUDA kernels
// give a NaN loss for a label outside 0..K-1 instead of reading out of bounds.
void check_softmax_cross_entropy_forward(const TensorRules& r, const Tensor& logits, const Tensor& labels,
                                         const Tensor* class_weights, double label_smoothing, const Tensor& probs,
                                         const Tensor& losses);
void check_softmax_cross_entropy_backward(const TensorRules& r, const Tensor& probs, const Tensor& labels,
                                          const Tensor* class_weights, double label_smoothing, const Tensor& dlogits);
// probs [N,K,1,1] and losses [N,1,1,1] in the parameter dtype, labels [N,1,1,1] i32 (in 0..K-1 when on the host,
// as above), stats [1,2,1,1] in the parameter dtype.
void check_loss_statistics(const TensorRules& r, const Tensor& probs, const Tensor& losses, const Tensor& labels,
                           const Tensor& stats);

void check_sgd_update(const TensorRules& r, const Tensor& param, const Tensor& grad, const Tensor& momentum);
// The three flat buffers as check_sgd_update wants them, and segments in ascending order, not overlapping, inside.
void check_sgd_update_segments(const TensorRules& r, const Tensor& param, const Tensor& grad, const Tensor& momentum,
                               std::span<const FlatSegment> segments);
// src and dst of equal shape and layout, each in the activation or the parameter dtype; segments as above.
// running and sums in the parameter dtype, of equal shape and layout; momentum in [0, 1]; micro_batches > 0.
void check_fold_running_statistics(const TensorRules& r, const Tensor& running, const Tensor& sums, double momentum,
                                   double micro_batches);
void check_copy_segments(const TensorRules& r, const Tensor& src, const Tensor& dst,
                         std::span<const FlatSegment> segments);

}  // namespace cbednet
