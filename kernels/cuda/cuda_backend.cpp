// CudaBackend construction, memory, copies and the operations that are single kernel launches.
#include "kernels/cuda/cuda_backend.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "kernels/cuda/cuda_backend_impl.hpp"

namespace cbednet {

namespace {

int device_count_or_zero() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return 0;
  }
  return count;
}

int local_rank_from_env() {
  for (const char* var :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
    if (const char* v = std::getenv(var)) return std::atoi(v);
  return 0;
}

cuda::CudaBackend& as_cuda(Backend& backend, const char* what) {
  auto* cuda = dynamic_cast<cuda::CudaBackend*>(&backend);
  if (cuda == nullptr)
    throw_error<InvalidArgument>(what, ": needs the cuda backend, got backend '", backend.name(), "'");
  return *cuda;
}

}  // namespace

bool cuda_device_available() { return device_count_or_zero() > 0; }

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    static_cast<void>(cudaGetLastError());
    throw_error<InvalidArgument>("--device cuda: no usable CUDA device (",
                                 err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount returned 0",
                                 "); run on a GPU node or use --device cpu");
  }
  const int device = options.cuda_device >= 0 ? options.cuda_device : local_rank_from_env() % count;
  if (device >= count)
    throw_error<InvalidArgument>("--cuda-device ", options.cuda_device, ": only ", count, " CUDA device(s) visible");
  cudaDeviceProp prop{};
  CBEDNET_CUDA("make_cuda_backend", cudaGetDeviceProperties(&prop, device));
  const std::string& p = options.precision;
  const std::optional<cuda::Precision> parsed = cuda::parse_precision(p);
  if (!parsed) throw_error<InvalidArgument>("--precision ", p, ": the cuda backend supports fp32, tf32, bf16 and fp16");
  const cuda::Precision precision = *parsed;
  if ((precision == cuda::Precision::bf16 || precision == cuda::Precision::tf32) && prop.major < 8)
    throw_error<InvalidArgument>("--precision ", p, ": needs a GPU of compute capability 8.0 or newer; device ", device,
                                 " (", prop.name, ") is ", prop.major, ".", prop.minor);
  if (precision == cuda::Precision::fp16 && prop.major < 7)
    throw_error<InvalidArgument>("--precision fp16: needs tensor cores (compute capability 7.0+); device ", device,
                                 " (", prop.name, ") is ", prop.major, ".", prop.minor);
  auto backend = std::make_unique<cuda::CudaBackend>(device, precision, options.deterministic);
  backend->set_conv_api(cuda::CudaBackend::parse_conv_api(options.conv_api));
  return backend;
}

bool all_finite(Backend& backend, const Tensor& t) { return as_cuda(backend, "all_finite").all_finite(t); }
CudaMemoryStats memory_stats(Backend& backend) { return as_cuda(backend, "memory_stats").memory_stats(); }

namespace cuda {

std::optional<Precision> parse_precision(const std::string& name) {
  if (name == "fp32" || name == "f32") return Precision::fp32;
  if (name == "tf32") return Precision::tf32;
  if (name == "bf16") return Precision::bf16;
  if (name == "fp16" || name == "f16") return Precision::fp16;
  return std::nullopt;
}

void require_device(const Tensor& t, const char* op, const char* name) {
  if (t.empty() || t.device() != Device::cuda)
    throw_error<InvalidArgument>("cuda backend, ", op, ": tensor ", name, " must be on the CUDA device, got ",
                                 t.empty() ? std::string("an empty tensor") : t.describe());
}

void require_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  if (a.shape() != b.shape())
    throw_error<ShapeError>("cuda backend, ", op, ": shapes differ: ", a.shape().str(), " vs ", b.shape().str());
}

void* PinnedBuffer::reserve(std::size_t bytes, const char* op) {
  if (bytes > capacity_) {
    ptr_.reset();
    capacity_ = 0;
    void* p = nullptr;
    CBEDNET_CUDA(op, cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    ptr_ = Unique<void*, cudaFreeHost>(p);
    capacity_ = bytes;
  }
  return ptr_.get();
}

CudaBackend::CudaBackend(int device, Precision precision, bool deterministic)
    : device_(device), precision_(precision), deterministic_(deterministic), dtype_(compute_dtype(precision)) {
  const char* op = "backend construction";
  const char* pad = std::getenv("CBEDNET_CUDNN_CHANNEL_PAD");
  pad_conv_channels_ = pad == nullptr || std::string(pad) != "0";
  CBEDNET_CUDA(op, cudaSetDevice(device_));
  alloc_ = std::make_shared<DeviceAllocator>(device_);
  stream_ = make_stream(op);
  copy_stream_ = make_stream(op);
  staging_done_ = make_event(op);
  upload_done_ = make_event(op);
  compute_mark_ = make_event(op);
  CBEDNET_CUDA(op, cudaEventRecord(staging_done_.get(), stream_.get()));

  cudnnHandle_t h{};
  CBEDNET_CUDNN(op, cudnnCreate(&h));
  cudnn_ = CudnnHandle(h);
  CBEDNET_CUDNN(op, cudnnSetStream(cudnn_.get(), stream_.get()));

  cublasHandle_t b{};
  CBEDNET_CUBLAS(op, cublasCreate(&b));
  cublas_ = CublasHandle(b);
  CBEDNET_CUBLAS(op, cublasSetStream(cublas_.get(), stream_.get()));
  // cublasSetStream resets the workspace: set ours afterwards, so cuBLAS never allocates behind our back.
  constexpr std::size_t cublas_ws = 32u << 20;
  cublas_workspace_ = alloc_->allocate(cublas_ws, "cuBLAS workspace");
  CBEDNET_CUBLAS(op, cublasSetWorkspace(cublas_.get(), cublas_workspace_->data(), cublas_ws));
  // fp32 means no TF32 anywhere; tf32 allows it; bf16/fp16 GEMMs use tensor cores with fp32 accumulation.
  CBEDNET_CUBLAS(op, cublasSetMathMode(cublas_.get(), precision_ == Precision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                                    : CUBLAS_DEFAULT_MATH));
  CBEDNET_CUBLAS(op, cublasSetPointerMode(cublas_.get(), CUBLAS_POINTER_MODE_HOST));
  finite_flag_ = alloc_->allocate(sizeof(int), "finiteness flag");
}

CudaBackend::~CudaBackend() {
  // Queued work may still use our buffers; errors cannot be reported from a destructor.
  if (stream_) static_cast<void>(cudaStreamSynchronize(stream_.get()));
  if (copy_stream_) static_cast<void>(cudaStreamSynchronize(copy_stream_.get()));
}

Tensor CudaBackend::scratch(Shape shape, DType dtype, Layout layout, const char* op) {
  const std::size_t bytes = static_cast<std::size_t>(shape.count()) * dtype_size(dtype);
  return Tensor(shape, dtype, layout, alloc_->allocate(bytes, op));
}

std::vector<std::pair<std::string, std::string>> CudaBackend::device_facts() const {
  const char* op = "device_facts";
  cudaDeviceProp prop{};
  CBEDNET_CUDA(op, cudaGetDeviceProperties(&prop, device_));
  int runtime = 0, driver = 0, cublas = 0, nccl = 0;
  CBEDNET_CUDA(op, cudaRuntimeGetVersion(&runtime));
  CBEDNET_CUDA(op, cudaDriverGetVersion(&driver));
  CBEDNET_CUBLAS(op, cublasGetVersion(cublas_.get(), &cublas));
  if (ncclGetVersion(&nccl) != ncclSuccess) nccl = 0;
  const auto quoted = [](const std::string& s) { return '"' + s + '"'; };
  const auto cuda_version = [&](int v) {
    return quoted(std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10));
  };
  const auto gib = [](std::size_t bytes) {
    std::ostringstream s;
    s.precision(4);
    s << static_cast<double>(bytes) / static_cast<double>(1ull << 30);
    return s.str();
  };
  const auto dotted = [&](std::size_t v) {  // major * 10000 + minor * 100 + patch (cuDNN 9, cuBLAS, NCCL)
    return quoted(std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100));
  };
  const CudaMemoryStats m = alloc_->stats();
  return {{"card", quoted(prop.name)},
          {"compute_capability", quoted(std::to_string(prop.major) + "." + std::to_string(prop.minor))},
          {"card_memory_gib", gib(prop.totalGlobalMem)},
          {"cuda_runtime", cuda_version(runtime)},
          {"cuda_driver", cuda_version(driver)},
          {"cudnn", dotted(cudnnGetVersion())},
          {"cublas", dotted(static_cast<std::size_t>(cublas))},
          {"nccl", dotted(static_cast<std::size_t>(nccl))},
          {"peak_gib", gib(m.peak_bytes)},
          {"reserved_gib", gib(m.reserved_bytes)},
          {"conv_api", quoted(conv_api_ == ConvApi::legacy  ? "legacy"
                              : conv_api_ == ConvApi::graph ? "graph"
                                                            : "auto")},
          {"conv_layers", conv_layers_json()}};
}

void* CudaBackend::workspace(std::size_t bytes, const char* op) {
  if (bytes == 0) return nullptr;
  if (!workspace_ || workspace_->bytes() < bytes) {
    workspace_.reset();  // back to the cache first, so that growing can reuse it
    workspace_ = alloc_->allocate(bytes, op);
  }
  return workspace_->data();
}

Tensor CudaBackend::in_layout(const Tensor& t, Layout layout, const char* op) {
  if (t.layout() == layout) return t.view();
  Tensor out = scratch(t.shape(), t.dtype(), layout, op);
  convert(view_of(t), view_of(out), stream_.get(), op);
  return out;
}

Tensor CudaBackend::allocate(Shape shape, DType dtype, Layout layout) {
  Tensor t = scratch(shape, dtype, layout, "allocate");
  if (t.bytes() > 0) CBEDNET_CUDA("allocate", cudaMemsetAsync(t.raw(), 0, t.bytes(), stream_.get()));
  return t;
}

void CudaBackend::synchronize() { CBEDNET_CUDA("synchronize", cudaStreamSynchronize(stream_.get())); }

// ---- copies -----------------------------------------------------------------------------------------------

namespace {
constexpr std::size_t kStagingChunk = 64u << 20;  // pinned staging buffer size; larger copies go in chunks
}

void CudaBackend::upload(const void* host, std::size_t bytes, void* device_dst, const char* op) {
  void* pinned = staging_.reserve(std::min(bytes, kStagingChunk), op);
  for (std::size_t done = 0; done < bytes; done += kStagingChunk) {
    const std::size_t n = std::min(kStagingChunk, bytes - done);
    // The previous chunk's transfer must have left the staging buffer before we overwrite it.
    CBEDNET_CUDA(op, cudaEventSynchronize(staging_done_.get()));
    std::memcpy(pinned, static_cast<const std::byte*>(host) + done, n);
    CBEDNET_CUDA(op, cudaMemcpyAsync(static_cast<std::byte*>(device_dst) + done, pinned, n, cudaMemcpyHostToDevice,
                                     stream_.get()));
    CBEDNET_CUDA(op, cudaEventRecord(staging_done_.get(), stream_.get()));
  }
}

void CudaBackend::download(const void* device_src, std::size_t bytes, void* host_dst, const char* op) {
  void* pinned = staging_.reserve(std::min(bytes, kStagingChunk), op);
  for (std::size_t done = 0; done < bytes; done += kStagingChunk) {
    const std::size_t n = std::min(kStagingChunk, bytes - done);
    CBEDNET_CUDA(op, cudaMemcpyAsync(pinned, static_cast<const std::byte*>(device_src) + done, n,
                                     cudaMemcpyDeviceToHost, stream_.get()));
    CBEDNET_CUDA(op, cudaStreamSynchronize(stream_.get()));
    std::memcpy(static_cast<std::byte*>(host_dst) + done, pinned, n);
  }
  CBEDNET_CUDA(op, cudaEventRecord(staging_done_.get(), stream_.get()));
}

void CudaBackend::copy(const Tensor& src, Tensor& dst) {
  const char* op = "copy";
  require_same_shape(src, dst, op);
  if (src.empty() || dst.empty()) throw_error<InvalidArgument>("cuda backend, copy: empty tensor");
  const bool same_format = src.dtype() == dst.dtype() && src.layout() == dst.layout();
  if ((src.dtype() == DType::i32) != (dst.dtype() == DType::i32))
    throw_error<InvalidArgument>("cuda backend, copy: cannot convert ", src.describe(), " to ", dst.describe());
  if (src.count() == 0) return;
  const bool src_dev = src.device() == Device::cuda, dst_dev = dst.device() == Device::cuda;
  if (src_dev && dst_dev) {
    if (same_format) {
      CBEDNET_CUDA(op, cudaMemcpyAsync(dst.raw(), src.raw(), src.bytes(), cudaMemcpyDeviceToDevice, stream_.get()));
    } else {
      convert(view_of(src), view_of(dst), stream_.get(), op);
    }
  } else if (!src_dev && dst_dev) {
    if (same_format) {
      upload(src.raw(), src.bytes(), dst.raw(), op);
    } else {
      Tensor staged = scratch(src.shape(), src.dtype(), src.layout(), op);
      upload(src.raw(), src.bytes(), staged.raw(), op);
      convert(view_of(staged), view_of(dst), stream_.get(), op);
    }
  } else if (src_dev && !dst_dev) {
    if (same_format) {
      download(src.raw(), src.bytes(), dst.raw(), op);
    } else {
      Tensor converted = scratch(dst.shape(), dst.dtype(), dst.layout(), op);
      convert(view_of(src), view_of(converted), stream_.get(), op);
      download(converted.raw(), converted.bytes(), dst.raw(), op);
    }
  } else {
    // Host to host: convert on the device, the only place that knows every dtype.
    Tensor staged = scratch(src.shape(), src.dtype(), src.layout(), op);
    upload(src.raw(), src.bytes(), staged.raw(), op);
    Tensor converted = scratch(dst.shape(), dst.dtype(), dst.layout(), op);
    convert(view_of(staged), view_of(converted), stream_.get(), op);
    download(converted.raw(), converted.bytes(), dst.raw(), op);
  }
}

void CudaBackend::upload_async(const Tensor& host_src, Tensor& dst) {
  const char* op = "upload_async";
  require_same_shape(host_src, dst, op);
  require_device(dst, op, "dst");
  if (host_src.device() != Device::host)
    throw_error<InvalidArgument>("cuda backend, ", op, ": source must be on the host");
  const bool same_format = host_src.dtype() == dst.dtype() && host_src.layout() == dst.layout();
  Tensor target = same_format ? dst.view() : scratch(host_src.shape(), host_src.dtype(), host_src.layout(), op);
  // The copy stream writes memory that work queued on the compute stream may still read: order after it.
  CBEDNET_CUDA(op, cudaEventRecord(compute_mark_.get(), stream_.get()));
  CBEDNET_CUDA(op, cudaStreamWaitEvent(copy_stream_.get(), compute_mark_.get(), 0));
  CBEDNET_CUDA(op, cudaEventSynchronize(upload_done_.get()));  // the staging buffer of the last upload is free
  void* pinned = upload_staging_.reserve(host_src.bytes(), op);
  std::memcpy(pinned, host_src.raw(), host_src.bytes());
  CBEDNET_CUDA(op, cudaMemcpyAsync(target.raw(), pinned, host_src.bytes(), cudaMemcpyHostToDevice, copy_stream_.get()));
  CBEDNET_CUDA(op, cudaEventRecord(upload_done_.get(), copy_stream_.get()));
  CBEDNET_CUDA(op, cudaStreamWaitEvent(stream_.get(), upload_done_.get(), 0));
  if (!same_format) convert(view_of(target), view_of(dst), stream_.get(), op);
}

// ---- elementwise ------------------------------------------------------------------------------------------

void CudaBackend::fill(Tensor& t, double value) {
  require_device(t, "fill", "t");
  cuda::fill(view_of(t), value, stream_.get(), "fill");
}

void CudaBackend::axpy(double alpha, const Tensor& x, Tensor& y) {
  const char* op = "axpy";
  require_device(x, op, "x");
  require_device(y, op, "y");
  require_same_shape(x, y, op);
  const Tensor xs = in_layout(x, y.layout(), op);
  cuda::axpy(alpha, view_of(xs), view_of(y), stream_.get(), op);
}

void CudaBackend::scale(Tensor& t, double alpha) {
  require_device(t, "scale", "t");
  cuda::scale(view_of(t), alpha, stream_.get(), "scale");
}

// The operations below were checked by Backend's public operations (kernels/op_checks.hpp): device tensors of
// the right dtypes and shapes. Operands in another layout than the output are converted first.

void CudaBackend::do_relu_forward(const Tensor& x, Tensor& y) {
  const char* op = "relu_forward";
  cuda::relu_forward(view_of(in_layout(x, y.layout(), op)), view_of(y), stream_.get(), op);
}

void CudaBackend::do_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  const char* op = "relu_backward";
  cuda::relu_backward(view_of(in_layout(y, dx.layout(), op)), view_of(in_layout(dy, dx.layout(), op)), view_of(dx),
                      stream_.get(), op);
}

void CudaBackend::do_add(const Tensor& a, const Tensor& b, Tensor& y) {
  const char* op = "add";
  cuda::add(view_of(in_layout(a, y.layout(), op)), view_of(in_layout(b, y.layout(), op)), view_of(y), stream_.get(),
            op);
}

void CudaBackend::do_dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) {
  const char* op = "dropout_forward";
  // The kernel addresses x, y and mask with one index (no conversion pass on the training path).
  if (y.layout() != x.layout() || mask.layout() != x.layout())
    throw_error<InvalidArgument>("cuda backend, ", op, ": x, y and mask must share a layout");
  const auto& k = key.stream.key();
  cuda::dropout_forward(view_of(x), p, k[0], k[1], key.step, key.first_sample, view_of(y), view_of(mask), stream_.get(),
                        op);
}

void CudaBackend::do_dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  const char* op = "dropout_backward";
  cuda::multiply(view_of(in_layout(dy, dx.layout(), op)), view_of(in_layout(mask, dx.layout(), op)), view_of(dx),
                 stream_.get(), op);
}

bool CudaBackend::all_finite(const Tensor& t) {
  const char* op = "all_finite";
  require_device(t, op, "t");
  int* flag = static_cast<int*>(finite_flag_->data());
  CBEDNET_CUDA(op, cudaMemsetAsync(flag, 0, sizeof(int), stream_.get()));
  flag_nonfinite(view_of(t), flag, stream_.get(), op);
  int host_flag = 0;
  CBEDNET_CUDA(op, cudaMemcpyAsync(&host_flag, flag, sizeof(int), cudaMemcpyDeviceToHost, stream_.get()));
  CBEDNET_CUDA(op, cudaStreamSynchronize(stream_.get()));
  return host_flag == 0;
}

// ---- pooling ----------------------------------------------------------------------------------------------

void CudaBackend::do_maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) {
  cuda::maxpool_forward(view_of(x), view_of(y), g.kernel, g.stride, g.pad, stream_.get(), "maxpool_forward");
}

void CudaBackend::do_maxpool_backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx,
                                      const PoolGeometry& g) {
  const char* op = "maxpool_backward";
  // The window's first maximum is recomputed from x (no argmax tensor to keep); y is only checked. The kernels add
  // into dx in phases of non-overlapping windows (pool_reduce.cu), so it starts from zero.
  if (dx.bytes() > 0) CBEDNET_CUDA(op, cudaMemsetAsync(dx.raw(), 0, dx.bytes(), stream_.get()));
  cuda::maxpool_backward(view_of(x), view_of(dy), view_of(dx), g.kernel, g.stride, g.pad, stream_.get(), op);
}

void CudaBackend::do_global_avgpool_forward(const Tensor& x, Tensor& y) {
  cuda::global_avgpool_forward(view_of(x), view_of(y), stream_.get(), "global_avgpool_forward");
}

void CudaBackend::do_global_avgpool_backward(const Tensor& dy, Tensor& dx) {
  cuda::global_avgpool_backward(view_of(dy), view_of(dx), stream_.get(), "global_avgpool_backward");
}

// ---- loss and optimizer -----------------------------------------------------------------------------------

void CudaBackend::do_softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                                   const Tensor* class_weights, double label_smoothing, Tensor& probs,
                                                   Tensor& losses) {
  const View w = class_weights ? view_of(*class_weights) : View{};
  softmax_xent_forward(view_of(logits), view_of(labels), class_weights ? &w : nullptr, label_smoothing, view_of(probs),
                       view_of(losses), stream_.get(), "softmax_cross_entropy_forward");
}

void CudaBackend::do_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels,
                                                    const Tensor* class_weights, double label_smoothing, double scale,
                                                    Tensor& dlogits) {
  const View w = class_weights ? view_of(*class_weights) : View{};
  softmax_xent_backward(view_of(probs), view_of(labels), class_weights ? &w : nullptr, label_smoothing, scale,
                        view_of(dlogits), stream_.get(), "softmax_cross_entropy_backward");
}

void CudaBackend::do_loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels, Tensor& stats) {
  cuda::loss_statistics(view_of(probs), view_of(losses), view_of(labels), view_of(stats), stream_.get(),
                        "loss_statistics");
}

void CudaBackend::do_sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) {
  cuda::sgd_update(view_of(param), view_of(grad), view_of(momentum), h.lr, h.momentum, h.weight_decay, h.nesterov,
                   h.grad_scale, stream_.get(), "sgd_update");
}

// ---- flat buffers ---------------------------------------------------------------------------------------------

namespace {

// Calls launch(batch) for the non-empty segments in order, at most kSegmentsPerLaunch at a time: one launch for a
// whole ResNet-50 or -152 store.
template <typename Launch>
void for_segment_batches(std::span<const FlatSegment> segments, Launch&& launch) {
  auto batch = std::make_unique<SegmentBatch>();  // zeroed: packed_start[0] = 0
  for (const FlatSegment& s : segments) {
    if (s.count == 0) continue;
    if (batch->count == kSegmentsPerLaunch) {
      launch(*batch);
      batch->count = 0;
    }
    const int k = batch->count++;
    batch->offset[k] = s.offset;
    batch->decayed[k] = s.decayed;
    batch->packed_start[k + 1] = batch->packed_start[k] + s.count;
  }
  if (batch->count > 0) launch(*batch);
}

}  // namespace

void CudaBackend::do_sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                                         std::span<const FlatSegment> segments, const SgdUpdate& h) {
  const View p = view_of(param), g = view_of(grad), v = view_of(momentum);
  for_segment_batches(segments, [&](const SegmentBatch& batch) {
    cuda::sgd_update_segments(p, g, v, batch, h.lr, h.momentum, h.weight_decay, h.nesterov, h.grad_scale, stream_.get(),
                              "sgd_update_segments");
  });
}

void CudaBackend::do_fold_running_statistics(Tensor& running, Tensor& sums, double momentum, double micro_batches) {
  cuda::fold_running_statistics(view_of(running), view_of(sums), momentum, micro_batches, stream_.get(),
                                "fold_running_statistics");
}

void CudaBackend::do_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) {
  const View from = view_of(src), to = view_of(dst);
  for_segment_batches(segments, [&](const SegmentBatch& batch) {
    cuda::copy_segments(from, to, batch, stream_.get(), "copy_segments");
  });
}

}  // namespace cuda
}  // namespace cbednet
