#include "kernels/backend.hpp"

#include <cmath>

#include "cbednet/build_info.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"
#if CBEDNET_HAVE_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace cbednet {

Shape ConvGeometry::output_shape(const Shape& x, std::int64_t out_channels) const {
  if (kernel_h <= 0 || kernel_w <= 0 || stride <= 0 || pad < 0)
    throw_error<ShapeError>("convolution: invalid geometry kernel ", kernel_h, "x", kernel_w, " stride ", stride,
                            " pad ", pad);
  const std::int64_t p = (x.h + 2 * pad - kernel_h) / stride + 1;
  const std::int64_t q = (x.w + 2 * pad - kernel_w) / stride + 1;
  if (x.h + 2 * pad < kernel_h || x.w + 2 * pad < kernel_w || p <= 0 || q <= 0)
    throw_error<ShapeError>("convolution: input ", x.str(), " is smaller than the ", kernel_h, "x", kernel_w,
                            " kernel with padding ", pad);
  return {x.n, out_channels, p, q};
}

Shape PoolGeometry::output_shape(const Shape& x) const {
  if (kernel <= 0 || stride <= 0 || pad < 0 || pad >= kernel)
    throw_error<ShapeError>("pooling: invalid geometry kernel ", kernel, " stride ", stride, " pad ", pad);
  if (x.h + 2 * pad < kernel || x.w + 2 * pad < kernel)
    throw_error<ShapeError>("pooling: input ", x.str(), " is smaller than the ", kernel, "x", kernel,
                            " window with padding ", pad);
  return {x.n, x.c, (x.h + 2 * pad - kernel) / stride + 1, (x.w + 2 * pad - kernel) / stride + 1};
}

std::unique_ptr<CapturedWork> Backend::capture(const std::function<void()>& /*work*/) { return nullptr; }

// The three memory operations BatchNorm::update_running_statistics makes per layer, once over the given tensors.
void Backend::do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                                         Activation act, Tensor& y, const ConvGeometry& g) {
  // Elementwise in place (y is both input and output of add and ReLU): every backend's kernels read an element
  // before they write it.
  do_conv2d_forward(x, w, &bias, y, g);
  if (residual) do_add(y, *residual, y);
  if (act == Activation::relu) do_relu_forward(y, y);
}

void Backend::do_fold_running_statistics(Tensor& running, Tensor& sums, double momentum, double micro_batches) {
  scale(running, 1.0 - momentum);
  axpy(momentum / micro_batches, sums, running);
  fill(sums, 0.0);
}

// On the host in fp64: the losses added in sample order to the running sum, the first largest probability of each
// row compared with its label (argmax_rows's rule: a later value replaces the best only when strictly larger).
void Backend::do_loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels, Tensor& stats) {
  const auto to_host = [this](const Tensor& t, DType dtype) {
    Tensor host(t.shape(), dtype, Layout::nchw);
    copy(t, host);
    return host;
  };
  const Tensor p = to_host(probs, DType::f64), l = to_host(losses, DType::f64), y = to_host(labels, DType::i32);
  Tensor s = to_host(stats, DType::f64);
  const std::int64_t n = probs.shape().n, k = probs.shape().c;
  double* sums = s.data<double>();
  for (std::int64_t i = 0; i < n; ++i) {
    sums[0] += l.data<double>()[i];
    const double* row = p.data<double>() + i * k;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < k; ++j)
      if (row[best] < row[j]) best = j;
    if (best == y.data<std::int32_t>()[i]) sums[1] += 1.0;
  }
  copy(s, stats);
}

bool Backend::all_finite(const Tensor& t) {
  const auto finite = [](auto values) {
    for (const auto v : values)
      if (!std::isfinite(v)) return false;
    return true;
  };
  if (t.device() == Device::host && t.dtype() == DType::f32) return finite(t.span<float>());
  if (t.device() == Device::host && t.dtype() == DType::f64) return finite(t.span<double>());
  Tensor host(t.shape(), DType::f64, Layout::nchw);
  copy(t, host);
  for (const double v : host.span<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  const DType dtype = [&] {
    if (options.precision == "tf32") return DType::f32;
    try {
      return parse_dtype(options.precision);
    } catch (const InvalidArgument&) {
      throw_error<InvalidArgument>("--precision: unknown precision '", options.precision,
                                   "' (expected fp64, fp32, tf32, bf16 or fp16)");
    }
  }();
  if (options.device == "cpu-reference") {
    if (dtype != DType::f64)
      throw_error<InvalidArgument>("--precision ", options.precision,
                                   ": the cpu-reference backend computes in fp64 only");
    return std::make_unique<ReferenceBackend>();
  }
  if (options.device == "cpu") {
    if (options.precision == "fp64") return std::make_unique<CpuBackend<double>>(options.threads);
    if (options.precision == "fp32") return std::make_unique<CpuBackend<float>>(options.threads);
    throw_error<InvalidArgument>("--precision ", options.precision,
                                 ": the CPU backend supports fp64 and fp32 (tf32, bf16 and fp16 need --device cuda)");
  }
  if (options.device == "cuda") {
#if CBEDNET_HAVE_CUDA
    return make_cuda_backend(options);
#else
    throw_error<InvalidArgument>(
        "--device cuda: this cbednet was built without CUDA (configure with CBEDNET_CUDA=ON "
        "on a machine with nvcc, cuDNN and NCCL)");
#endif
  }
  throw_error<InvalidArgument>("--device: unknown device '", options.device, "' (expected cpu, cpu-reference or cuda)");
}

}  // namespace cbednet
