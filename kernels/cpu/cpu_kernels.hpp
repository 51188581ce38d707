// The fast CPU kernels behind CpuBackend<T>, on NCHW host tensors already checked by kernels/op_checks.
// Instantiated for float and double in the cpu_*.cpp files.
#pragma once

#include "kernels/backend.hpp"
#include "kernels/cpu/workspace.hpp"

namespace cbednet::cpu {

// cpu_conv.cpp
// What a convolution adds over y after its GEMM, in the same pass as the bias: a residual of y's shape and a ReLU
// (Backend::conv2d_bias_act_forward).
struct ConvEpilogue {
  const Tensor* residual = nullptr;
  bool relu = false;
};
template <typename T>
void conv2d_forward(Workspace<T>& ws, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const ConvGeometry& g, const ConvEpilogue& epilogue = {});
template <typename T>
void conv2d_backward_data(Workspace<T>& ws, const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g);
template <typename T>
void conv2d_backward_filter(Workspace<T>& ws, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                            const ConvGeometry& g, GradMode mode);

// cpu_batchnorm.cpp
template <typename T>
void batchnorm_forward_training(const Workspace<T>& ws, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                const Tensor* residual, Activation act, double eps, Tensor& y, Tensor& mean,
                                Tensor& var, Tensor& invstd);
template <typename T>
void batchnorm_forward_inference(const Workspace<T>& ws, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 const Tensor& running_mean, const Tensor& running_var, const Tensor* residual,
                                 Activation act, double eps, Tensor& y);
template <typename T>
void batchnorm_backward(const Workspace<T>& ws, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                        const Tensor& mean, const Tensor& invstd, Activation act, Tensor& dx, Tensor* dresidual,
                        Tensor& dgamma, Tensor& dbeta, GradMode mode);

// cpu_elementwise.cpp
template <typename T>
void relu_forward(const Workspace<T>& ws, const Tensor& x, Tensor& y);
template <typename T>
void relu_backward(const Workspace<T>& ws, const Tensor& y, const Tensor& dy, Tensor& dx);
template <typename T>
void add(const Workspace<T>& ws, const Tensor& a, const Tensor& b, Tensor& y);
template <typename T>
void dropout_forward(const Workspace<T>& ws, const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask);
template <typename T>
void multiply(const Workspace<T>& ws, const Tensor& a, const Tensor& b, Tensor& y);
template <typename T>
void sgd_update(const Workspace<T>& ws, Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h);
// The same loop on each segment (h.weight_decay on the decayed ones): the same bits as one sgd_update per segment.
template <typename T>
void sgd_update_segments(const Workspace<T>& ws, Tensor& param, const Tensor& grad, Tensor& momentum,
                         std::span<const FlatSegment> segments, const SgdUpdate& h);

// cpu_pool_linear_loss.cpp
template <typename T>
void maxpool_forward(const Workspace<T>& ws, const Tensor& x, Tensor& y, const PoolGeometry& g);
template <typename T>
void maxpool_backward(const Workspace<T>& ws, const Tensor& x, const Tensor& dy, Tensor& dx, const PoolGeometry& g);
template <typename T>
void global_avgpool_forward(const Workspace<T>& ws, const Tensor& x, Tensor& y);
template <typename T>
void global_avgpool_backward(const Workspace<T>& ws, const Tensor& dy, Tensor& dx);
template <typename T>
void linear_forward(const Workspace<T>& ws, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y);
template <typename T>
void linear_backward_data(const Workspace<T>& ws, const Tensor& dy, const Tensor& w, Tensor& dx);
template <typename T>
void linear_backward_weights(const Workspace<T>& ws, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                             GradMode mode);
template <typename T>
void softmax_cross_entropy_forward(const Workspace<T>& ws, const Tensor& logits, const Tensor& labels,
                                   const Tensor* class_weights, double label_smoothing, Tensor& probs, Tensor& losses);
template <typename T>
void softmax_cross_entropy_backward(const Workspace<T>& ws, const Tensor& probs, const Tensor& labels,
                                    const Tensor* class_weights, double label_smoothing, double scale, Tensor& dlogits);

// Instantiates `X(float)` and `X(double)` for a macro X declaring one explicit instantiation.
#define CBEDNET_CPU_INSTANTIATE(X) \
  X(float)                         \
  X(double)

}  // namespace cbednet::cpu
