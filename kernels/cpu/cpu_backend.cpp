#include "kernels/cpu/cpu_backend.hpp"

#include <omp.h>

#include "kernels/cpu/blas.hpp"
#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/host_ops.hpp"

namespace cbednet {
template <typename T>
CpuBackend<T>::CpuBackend(int threads) {
  if (threads < 0) throw_error<InvalidArgument>("--threads: expected 0 (OpenMP default) or more, got ", threads);
  ws_.threads = threads;
  if (threads > 0) {
    // OpenBLAS (OpenMP flavour) sizes its GEMM team from both settings.
    omp_set_num_threads(threads);
    blas::set_threads(threads);
  }
}

template <typename T>
void CpuBackend<T>::set_workspace_limit(std::int64_t elements) {
  if (elements < 1) throw_error<InvalidArgument>("CPU backend workspace limit must be positive, got ", elements);
  ws_.col_limit = elements;
}

template <typename T>
std::string CpuBackend<T>::blas_core() {
  return blas::core_name();
}

template <typename T>
std::string CpuBackend<T>::blas_advice() {
  const std::string core = blas_core();
  // Kernels OpenBLAS picks when it cannot identify the CPU model.
  const bool generic = core == "Prescott" || core == "Core2" || core == "Nehalem" || core == "Atom" ||
                       core == "Katmai" || core == "Coppermine" || core == "Northwood";
#if defined(__x86_64__) || defined(__i386__)
  const char* better = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2")  ? "Haswell"
                                                         : nullptr;
#else
  const char* better = nullptr;
#endif
  if (!generic || better == nullptr) return {};
  return detail::concat("OpenBLAS uses its generic '", core, "' kernels although this CPU supports ",
                        std::string(better) == "SkylakeX" ? "AVX-512" : "AVX2",
                        " (the CPU model is probably hidden by a virtual machine); set OPENBLAS_CORETYPE=", better,
                        " for several times faster GEMM");
}

// ---- memory ---------------------------------------------------------------------------------------------------

template <typename T>
Tensor CpuBackend<T>::allocate(Shape shape, DType dtype, Layout layout) {
  return cpu::host_allocate(shape, dtype, layout);
}
template <typename T>
void CpuBackend<T>::copy(const Tensor& src, Tensor& dst) {
  cpu::host_copy(src, dst, ws_.team());
}
template <typename T>
void CpuBackend<T>::fill(Tensor& t, double value) {
  cpu::host_fill(t, value, ws_.team());
}
template <typename T>
void CpuBackend<T>::axpy(double alpha, const Tensor& x, Tensor& y) {
  cpu::host_axpy(alpha, x, y, ws_.team());
}
template <typename T>
void CpuBackend<T>::scale(Tensor& t, double alpha) {
  cpu::host_scale(t, alpha, ws_.team());
}

// ---- convolution ----------------------------------------------------------------------------------------------

template <typename T>
void CpuBackend<T>::do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                                      const ConvGeometry& g) {
  cpu::conv2d_forward(ws_, x, w, bias, y, g);
}
template <typename T>
void CpuBackend<T>::do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                               const Tensor* residual, Activation act, Tensor& y,
                                               const ConvGeometry& g) {
  cpu::conv2d_forward(ws_, x, w, &bias, y, g, {residual, act == Activation::relu});
}
template <typename T>
void CpuBackend<T>::do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                                            GradMode mode) {
  if (mode == GradMode::accumulate) {  // computed apart and added once: dx + result, as a separate axpy would
    Tensor result = allocate(dx.shape(), dx.dtype(), dx.layout());
    cpu::conv2d_backward_data(ws_, dy, w, result, g);
    cpu::host_axpy(1.0, result, dx, ws_.team());
    return;
  }
  cpu::conv2d_backward_data(ws_, dy, w, dx, g);
}
template <typename T>
void CpuBackend<T>::do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias,
                                              const ConvGeometry& g, GradMode mode) {
  cpu::conv2d_backward_filter(ws_, x, dy, dw, dbias, g, mode);
}

// ---- batch norm -----------------------------------------------------------------------------------------------

template <typename T>
void CpuBackend<T>::do_batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                  const Tensor* residual, Activation act, double eps, Tensor& y,
                                                  Tensor& mean, Tensor& var, Tensor& invstd) {
  cpu::batchnorm_forward_training(ws_, x, gamma, beta, residual, act, eps, y, mean, var, invstd);
}
template <typename T>
void CpuBackend<T>::do_batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                   const Tensor& running_mean, const Tensor& running_var,
                                                   const Tensor* residual, Activation act, double eps, Tensor& y) {
  cpu::batchnorm_forward_inference(ws_, x, gamma, beta, running_mean, running_var, residual, act, eps, y);
}
template <typename T>
void CpuBackend<T>::do_batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                                          const Tensor& /*beta*/, const Tensor& mean, const Tensor& invstd,
                                          Activation act, Tensor& dx, Tensor* dresidual, Tensor& dgamma, Tensor& dbeta,
                                          GradMode mode) {
  cpu::batchnorm_backward(ws_, x, y, dy, gamma, mean, invstd, act, dx, dresidual, dgamma, dbeta, mode);
}

// ---- elementwise ----------------------------------------------------------------------------------------------

template <typename T>
void CpuBackend<T>::do_relu_forward(const Tensor& x, Tensor& y) {
  cpu::relu_forward(ws_, x, y);
}
template <typename T>
void CpuBackend<T>::do_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  cpu::relu_backward(ws_, y, dy, dx);
}
template <typename T>
void CpuBackend<T>::do_add(const Tensor& a, const Tensor& b, Tensor& y) {
  cpu::add(ws_, a, b, y);
}
template <typename T>
void CpuBackend<T>::do_dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) {
  cpu::dropout_forward(ws_, x, p, key, y, mask);
}
template <typename T>
void CpuBackend<T>::do_dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  cpu::multiply(ws_, dy, mask, dx);
}

// ---- pooling --------------------------------------------------------------------------------------------------

template <typename T>
void CpuBackend<T>::do_maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) {
  cpu::maxpool_forward(ws_, x, y, g);
}
template <typename T>
void CpuBackend<T>::do_maxpool_backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx,
                                        const PoolGeometry& g) {
  cpu::maxpool_backward(ws_, x, dy, dx, g);
}
template <typename T>
void CpuBackend<T>::do_global_avgpool_forward(const Tensor& x, Tensor& y) {
  cpu::global_avgpool_forward(ws_, x, y);
}
template <typename T>
void CpuBackend<T>::do_global_avgpool_backward(const Tensor& dy, Tensor& dx) {
  cpu::global_avgpool_backward(ws_, dy, dx);
}

// ---- fully connected ------------------------------------------------------------------------------------------

template <typename T>
void CpuBackend<T>::do_linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  cpu::linear_forward(ws_, x, w, b, y);
}
template <typename T>
void CpuBackend<T>::do_linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) {
  cpu::linear_backward_data(ws_, dy, w, dx);
}
template <typename T>
void CpuBackend<T>::do_linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                                               GradMode mode) {
  cpu::linear_backward_weights(ws_, x, dy, dw, db, mode);
}

// ---- loss and optimizer ---------------------------------------------------------------------------------------

template <typename T>
void CpuBackend<T>::do_softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                                     const Tensor* class_weights, double label_smoothing, Tensor& probs,
                                                     Tensor& losses) {
  cpu::softmax_cross_entropy_forward(ws_, logits, labels, class_weights, label_smoothing, probs, losses);
}
template <typename T>
void CpuBackend<T>::do_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels,
                                                      const Tensor* class_weights, double label_smoothing, double scale,
                                                      Tensor& dlogits) {
  cpu::softmax_cross_entropy_backward(ws_, probs, labels, class_weights, label_smoothing, scale, dlogits);
}
template <typename T>
void CpuBackend<T>::do_sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) {
  cpu::sgd_update(ws_, param, grad, momentum, h);
}
template <typename T>
void CpuBackend<T>::do_sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                                           std::span<const FlatSegment> segments, const SgdUpdate& h) {
  cpu::sgd_update_segments(ws_, param, grad, momentum, segments, h);
}

// ---- flat buffers ---------------------------------------------------------------------------------------------

template <typename T>
void CpuBackend<T>::do_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) {
  cpu::host_copy_segments(src, dst, segments, ws_.team());
}

template class CpuBackend<float>;
template class CpuBackend<double>;

}  // namespace cbednet
