// Batch normalisation (per channel over N,H,W) with optional fused residual add and ReLU.
//
// Training forward tries cudnnBatchNormalizationForwardTrainingEx with CUDNN_BATCHNORM_OPS_BN_ACTIVATION or
// BN_ADD_ACTIVATION (NHWC, SPATIAL_PERSISTENT for 16-bit data): one pass computes y = relu(BN(x) [+ z]). When
// cuDNN refuses a configuration (typically fp32, NCHW, odd channel counts), the plain cudnnBatchNormalization-
// ForwardTraining runs and a kernel adds the residual and applies the ReLU; the refusal is remembered.
// The batch mean and the UNBIASED batch variance come out of cuDNN's running-average outputs: they are zeroed
// and the average factor is 1, so running = batch statistic (cuDNN's running variance uses N*H*W - 1).
// invstd is cuDNN's saved inverse standard deviation 1/sqrt(var_biased + eps).
//
// The fused backward needs the forward's reserve space (the ReLU mask); the Backend interface does not carry
// it, so the forward keeps it keyed by y's storage and backward looks it up. Without it (or when x changed)
// backward takes the unfused path: g = dy * (y > 0), dresidual = g, then cudnnBatchNormalizationBackward.
// Inference is one hand-written kernel (running statistics, residual and ReLU fused).
#include <cudnn.h>

#include <sstream>

#include "kernels/cuda/cuda_backend_impl.hpp"
#include "kernels/cuda/cudnn_desc.hpp"

namespace cbednet::cuda {

namespace {

constexpr int kNoOps = -1;  // residual without activation: cuDNN has no such fused op

int wanted_ops(Activation act, bool residual) {
  if (act == Activation::relu)
    return residual ? CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION : CUDNN_BATCHNORM_OPS_BN_ACTIVATION;
  return residual ? kNoOps : CUDNN_BATCHNORM_OPS_BN;
}

cudnnBatchNormMode_t bn_mode(const Tensor& x) {
  // The persistent kernels are the fast NHWC path for 16-bit data; fp32 keeps the plain spatial kernels.
  const bool half = x.dtype() == DType::bf16 || x.dtype() == DType::f16;
  return half && x.layout() == Layout::nhwc ? CUDNN_BATCHNORM_SPATIAL_PERSISTENT : CUDNN_BATCHNORM_SPATIAL;
}

// "Not supported" and "bad parameter" families: the configuration is refused, nothing ran.
bool refused(cudnnStatus_t st) { return st >= 2000 && st < 4000; }

std::string fused_key(int ops, const Tensor& x) {
  std::ostringstream k;
  const Shape& s = x.shape();
  k << ops << '|' << s.n << ',' << s.c << ',' << s.h << ',' << s.w << ',' << static_cast<int>(x.dtype()) << ','
    << static_cast<int>(x.layout());
  return k.str();
}

ActivationDesc relu_desc(const char* op) {
  ActivationDesc a = make_activation_desc(op);
  CBEDNET_CUDNN(op, cudnnSetActivationDescriptor(a.get(), CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  return a;
}

}  // namespace

void CudaBackend::purge_bn_saved() {
  for (auto it = bn_saved_.begin(); it != bn_saved_.end();)
    it = it->second.y_storage.expired() ? bn_saved_.erase(it) : std::next(it);
}

// Shapes, dtypes (activations in dtype(), per-channel tensors f32) and devices were checked by
// Backend::batchnorm_* (kernels/op_checks.hpp); cuDNN adds that y (and dx) share x's layout.
void CudaBackend::do_batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                const Tensor* residual, Activation act, double eps, Tensor& y,
                                                Tensor& mean, Tensor& var, Tensor& invstd) {
  const char* op = "batchnorm_forward_training";
  const std::int64_t c = x.shape().c;
  if (y.layout() != x.layout() || y.dtype() != x.dtype())
    throw_error<InvalidArgument>("cuda backend, ", op, ": y (", y.describe(), ") must have x's dtype and layout (",
                                 x.describe(), ")");
  Tensor z;
  if (residual) {
    z = residual->dtype() == x.dtype() ? in_layout(*residual, x.layout(), op)
                                       : scratch(x.shape(), x.dtype(), x.layout(), op);
    if (residual->dtype() != x.dtype()) convert(view_of(*residual), view_of(z), stream_.get(), op);
  }
  purge_bn_saved();
  bn_last_eps_ = eps;

  const cudnnBatchNormMode_t mode = bn_mode(x);
  TensorDesc xd = tensor_desc(x, op), yd = tensor_desc(y, op);
  TensorDesc zd = residual ? tensor_desc(z, op) : TensorDesc{};
  TensorDesc bnd = make_tensor_desc(op);
  CBEDNET_CUDNN(op, cudnnDeriveBNTensorDescriptor(bnd.get(), xd.get(), mode));
  Tensor saved_mean = scratch(Shape{1, c, 1, 1}, DType::f32, Layout::nchw, op);
  const float one = 1.0f, zero = 0.0f;
  const auto zero_stats = [&] {
    CBEDNET_CUDA(op, cudaMemsetAsync(mean.raw(), 0, mean.bytes(), stream_.get()));
    CBEDNET_CUDA(op, cudaMemsetAsync(var.raw(), 0, var.bytes(), stream_.get()));
  };
  zero_stats();

  const int ops = wanted_ops(act, residual != nullptr);
  const std::string key = fused_key(ops, x);
  const bool try_fused =
      ops != kNoOps && x.layout() == Layout::nhwc && bn_fused_ok_.try_emplace(key, true).first->second;
  if (try_fused) {
    const auto bn_ops = static_cast<cudnnBatchNormOps_t>(ops);
    ActivationDesc ad = ops == CUDNN_BATCHNORM_OPS_BN ? ActivationDesc{} : relu_desc(op);
    std::size_t ws_bytes = 0, rs_bytes = 0;
    cudnnStatus_t st = cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
        cudnn_.get(), mode, bn_ops, xd.get(), zd.get(), yd.get(), bnd.get(), ad.get(), &ws_bytes);
    if (st == CUDNN_STATUS_SUCCESS)
      st = cudnnGetBatchNormalizationTrainingExReserveSpaceSize(cudnn_.get(), mode, bn_ops, ad.get(), xd.get(),
                                                                &rs_bytes);
    if (st == CUDNN_STATUS_SUCCESS) {
      std::shared_ptr<Allocation> reserve = rs_bytes ? alloc_->allocate(rs_bytes, op) : nullptr;
      st = cudnnBatchNormalizationForwardTrainingEx(
          cudnn_.get(), mode, bn_ops, &one, &zero, xd.get(), x.raw(), zd.get(), residual ? z.raw() : nullptr, yd.get(),
          y.raw(), bnd.get(), gamma.raw(), beta.raw(), 1.0, mean.raw(), var.raw(), eps, saved_mean.raw(), invstd.raw(),
          ad.get(), workspace(ws_bytes, op), ws_bytes, reserve ? reserve->data() : nullptr, rs_bytes);
      if (st == CUDNN_STATUS_SUCCESS) {
        bn_saved_[{y.storage().get(), y.byte_offset()}] =
            BnSaved{y.storage(), x.raw(), std::move(reserve), rs_bytes, ops, eps};
        return;
      }
    }
    if (!refused(st))
      throw_error<BackendError>("cuda backend, ", op, ": cudnnBatchNormalizationForwardTrainingEx failed with ",
                                cudnnGetErrorString(st), " for x ", x.describe());
    bn_fused_ok_[key] = false;
    zero_stats();
  }
  CBEDNET_CUDNN(op, cudnnBatchNormalizationForwardTraining(cudnn_.get(), mode, &one, &zero, xd.get(), x.raw(), yd.get(),
                                                           y.raw(), bnd.get(), gamma.raw(), beta.raw(), 1.0, mean.raw(),
                                                           var.raw(), eps, saved_mean.raw(), invstd.raw()));
  if (residual || act == Activation::relu) {
    const View zv = residual ? view_of(z) : View{};
    add_relu_inplace(view_of(y), residual ? &zv : nullptr, act == Activation::relu, stream_.get(), op);
  }
}

void CudaBackend::do_batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                 const Tensor& running_mean, const Tensor& running_var,
                                                 const Tensor* residual, Activation act, double eps, Tensor& y) {
  const char* op = "batchnorm_forward_inference";
  const Tensor xs = in_layout(x, y.layout(), op);
  Tensor r;
  if (residual) {
    r = in_layout(*residual, y.layout(), op);
  }
  const View rv = residual ? view_of(r) : View{};
  batchnorm_inference(view_of(xs), view_of(gamma), view_of(beta), view_of(running_mean), view_of(running_var),
                      residual ? &rv : nullptr, act == Activation::relu, eps, view_of(y), stream_.get(), op);
}

void CudaBackend::do_batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                                        const Tensor& beta, const Tensor& mean, const Tensor& invstd, Activation act,
                                        Tensor& dx, Tensor* dresidual, Tensor& dgamma, Tensor& dbeta, GradMode mode) {
  const char* op = "batchnorm_backward";
  if (dx.layout() != x.layout() || dx.dtype() != x.dtype() || y.layout() != x.layout() || y.dtype() != x.dtype())
    throw_error<InvalidArgument>("cuda backend, ", op, ": y and dx must have x's dtype and layout (", x.describe(),
                                 ")");
  const Tensor g_in = in_layout(dy, x.layout(), op);

  const cudnnBatchNormMode_t bn = bn_mode(x);
  TensorDesc xd = tensor_desc(x, op), yd = tensor_desc(y, op), dyd = tensor_desc(g_in, op), dxd = tensor_desc(dx, op);
  TensorDesc bnd = make_tensor_desc(op);
  CBEDNET_CUDNN(op, cudnnDeriveBNTensorDescriptor(bnd.get(), xd.get(), bn));
  const float one = 1.0f, zero = 0.0f, param_beta = mode == GradMode::accumulate ? 1.0f : 0.0f;

  const int ops = wanted_ops(act, dresidual != nullptr);
  const auto saved_it = bn_saved_.find({y.storage().get(), y.byte_offset()});
  const bool have_saved = saved_it != bn_saved_.end() && !saved_it->second.y_storage.expired() &&
                          saved_it->second.x == x.raw() && saved_it->second.ops == ops;
  const double eps = have_saved ? saved_it->second.eps : bn_last_eps_;
  if (have_saved) {
    const BnSaved saved = saved_it->second;
    bn_saved_.erase(saved_it);
    const auto bn_ops = static_cast<cudnnBatchNormOps_t>(ops);
    ActivationDesc ad = ops == CUDNN_BATCHNORM_OPS_BN ? ActivationDesc{} : relu_desc(op);
    // dz is written in dresidual's format only when it matches x's; otherwise through a scratch tensor.
    const bool dz_direct = dresidual && dresidual->layout() == x.layout() && dresidual->dtype() == x.dtype();
    Tensor dz;
    if (dresidual) dz = dz_direct ? dresidual->view() : scratch(x.shape(), x.dtype(), x.layout(), op);
    TensorDesc dzd = dresidual ? tensor_desc(dz, op) : TensorDesc{};
    std::size_t ws_bytes = 0;
    cudnnStatus_t st = cudnnGetBatchNormalizationBackwardExWorkspaceSize(
        cudnn_.get(), bn, bn_ops, xd.get(), yd.get(), dyd.get(), dzd.get(), dxd.get(), bnd.get(), ad.get(), &ws_bytes);
    if (st == CUDNN_STATUS_SUCCESS)
      st = cudnnBatchNormalizationBackwardEx(
          cudnn_.get(), bn, bn_ops, &one, &zero, &one, &param_beta, xd.get(), x.raw(), yd.get(), y.raw(), dyd.get(),
          g_in.raw(), dzd.get(), dresidual ? dz.raw() : nullptr, dxd.get(), dx.raw(), bnd.get(), gamma.raw(),
          beta.raw(), dgamma.raw(), dbeta.raw(), eps, mean.raw(), invstd.raw(), ad.get(), workspace(ws_bytes, op),
          ws_bytes, saved.reserve ? saved.reserve->data() : nullptr, saved.reserve_bytes);
    if (st == CUDNN_STATUS_SUCCESS) {
      if (dresidual && !dz_direct) convert(view_of(dz), view_of(*dresidual), stream_.get(), op);
      return;
    }
    if (!refused(st))
      throw_error<BackendError>("cuda backend, ", op, ": cudnnBatchNormalizationBackwardEx failed with ",
                                cudnnGetErrorString(st), " for x ", x.describe());
  }

  // Unfused: gradient through the ReLU, then through the add (the residual gets the same gradient), then BN.
  Tensor g = g_in.view();
  if (act == Activation::relu) {
    g = scratch(x.shape(), x.dtype(), x.layout(), op);
    cuda::relu_backward(view_of(y), view_of(g_in), view_of(g), stream_.get(), op);
  }
  if (dresidual) convert(view_of(g), view_of(*dresidual), stream_.get(), op);
  TensorDesc gd = tensor_desc(g, op);
  CBEDNET_CUDNN(op, cudnnBatchNormalizationBackward(cudnn_.get(), bn, &one, &zero, &one, &param_beta, xd.get(), x.raw(),
                                                    gd.get(), g.raw(), dxd.get(), dx.raw(), bnd.get(), gamma.raw(),
                                                    dgamma.raw(), dbeta.raw(), eps, mean.raw(), invstd.raw()));
}

}  // namespace cbednet::cuda
