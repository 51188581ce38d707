#include "core/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

namespace cbednet {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f64:
      return 8;
    case DType::f32:
      return 4;
    case DType::bf16:
      return 2;
    case DType::f16:
      return 2;
    case DType::i32:
      return 4;
  }
  return 0;
}

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::f64:
      return "fp64";
    case DType::f32:
      return "fp32";
    case DType::bf16:
      return "bf16";
    case DType::f16:
      return "fp16";
    case DType::i32:
      return "i32";
  }
  return "?";
}

const char* to_string(Layout layout) { return layout == Layout::nchw ? "NCHW" : "NHWC"; }
const char* to_string(Device device) { return device == Device::host ? "host" : "cuda"; }

DType parse_dtype(const std::string& name) {
  if (name == "fp64" || name == "f64" || name == "float64") return DType::f64;
  if (name == "fp32" || name == "f32" || name == "float32") return DType::f32;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  if (name == "fp16" || name == "f16" || name == "float16") return DType::f16;
  if (name == "i32" || name == "int32") return DType::i32;
  throw_error<InvalidArgument>("unknown data type '", name, "' (expected fp64, fp32, bf16, fp16 or i32)");
}

std::string Shape::str() const {
  std::ostringstream out;
  out << "[N=" << n << ", C=" << c << ", H=" << h << ", W=" << w << "]";
  return out.str();
}

namespace {
class HostAllocation final : public Allocation {
 public:
  explicit HostAllocation(std::size_t bytes) : bytes_(bytes) {
    constexpr std::size_t alignment = 64;
    const std::size_t rounded = std::max<std::size_t>(alignment, (bytes + alignment - 1) / alignment * alignment);
    data_ = std::aligned_alloc(alignment, rounded);
    if (data_ == nullptr) throw_error<Error>("out of host memory allocating ", bytes, " bytes");
    std::memset(data_, 0, rounded);
  }
  ~HostAllocation() override { std::free(data_); }
  HostAllocation(const HostAllocation&) = delete;
  HostAllocation& operator=(const HostAllocation&) = delete;
  void* data() override { return data_; }
  std::size_t bytes() const override { return bytes_; }
  Device device() const override { return Device::host; }

 private:
  void* data_ = nullptr;  // owned; freed in the destructor (aligned_alloc has no RAII wrapper in the standard)
  std::size_t bytes_ = 0;
};
}  // namespace

std::shared_ptr<Allocation> allocate_host(std::size_t bytes) { return std::make_shared<HostAllocation>(bytes); }

static void check_shape_valid(const Shape& shape) {
  if (shape.n < 0 || shape.c < 0 || shape.h < 0 || shape.w < 0)
    throw_error<ShapeError>("negative tensor dimension in ", shape.str());
}

Tensor::Tensor(Shape shape, DType dtype, Layout layout) : shape_(shape), dtype_(dtype), layout_(layout) {
  check_shape_valid(shape);
  storage_ = allocate_host(bytes());
}

Tensor::Tensor(Shape shape, DType dtype, Layout layout, std::shared_ptr<Allocation> storage, std::size_t byte_offset)
    : shape_(shape), dtype_(dtype), layout_(layout), storage_(std::move(storage)), offset_(byte_offset) {
  check_shape_valid(shape);
  CBEDNET_ASSERT(storage_ != nullptr);
  if (offset_ + bytes() > storage_->bytes())
    throw_error<ShapeError>("tensor ", shape.str(), " of ", to_string(dtype), " at byte offset ", byte_offset,
                            " does not fit in its storage of ", storage_->bytes(), " bytes");
}

void Tensor::check_host_dtype(DType expected) const {
  if (dtype_ != expected)
    throw_error<Error>("tensor access as ", to_string(expected), " but the tensor is ", describe());
  if (device() != Device::host) throw_error<Error>("host access to a device tensor: ", describe());
}

Tensor Tensor::view() const { return Tensor(shape_, dtype_, layout_, storage_, offset_); }

Tensor Tensor::view(Shape shape) const {
  if (shape.count() != count())
    throw_error<ShapeError>("cannot view ", shape_.str(), " as ", shape.str(), ": element counts differ");
  return Tensor(shape, dtype_, layout_, storage_, offset_);
}

Tensor Tensor::view(Shape shape, std::int64_t element_offset) const {
  if (element_offset < 0 || element_offset + shape.count() > count())
    throw_error<ShapeError>("view ", shape.str(), " at element ", element_offset, " exceeds tensor ", shape_.str());
  return Tensor(shape, dtype_, layout_, storage_,
                offset_ + static_cast<std::size_t>(element_offset) * dtype_size(dtype_));
}

Tensor Tensor::view(Shape shape, std::int64_t element_offset, Layout layout) const {
  Tensor out = view(shape, element_offset);
  out.layout_ = layout;
  return out;
}

Tensor Tensor::slice_batch(std::int64_t first, std::int64_t n) const {
  if (first < 0 || n < 0 || first + n > shape_.n)
    throw_error<ShapeError>("batch slice [", first, ", ", first + n, ") outside tensor ", shape_.str());
  Shape s = shape_;
  s.n = n;
  return Tensor(s, dtype_, layout_, storage_,
                offset_ + static_cast<std::size_t>(first * shape_.per_sample()) * dtype_size(dtype_));
}

Tensor Tensor::clone() const {
  if (device() != Device::host) throw_error<Error>("clone() of a device tensor: ", describe());
  Tensor out(shape_, dtype_, layout_);
  if (!empty()) std::memcpy(out.raw(), raw(), bytes());
  return out;
}

Tensor Tensor::to_dtype(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor out(shape_, dtype, layout_);
  const auto n = static_cast<std::size_t>(count());
  if (dtype_ == DType::f64 && dtype == DType::f32) {
    std::transform(data<double>(), data<double>() + n, out.data<float>(),
                   [](double v) { return static_cast<float>(v); });
  } else if (dtype_ == DType::f32 && dtype == DType::f64) {
    std::copy(data<float>(), data<float>() + n, out.data<double>());
  } else {
    throw_error<Error>("host conversion from ", to_string(dtype_), " to ", to_string(dtype), " is not supported");
  }
  return out;
}

Tensor Tensor::to_layout(Layout layout) const {
  if (layout == layout_) return clone();
  Tensor out(shape_, dtype_, layout);
  const std::size_t elem = dtype_size(dtype_);
  const auto* src = static_cast<const std::byte*>(raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (std::int64_t n = 0; n < shape_.n; ++n)
    for (std::int64_t c = 0; c < shape_.c; ++c)
      for (std::int64_t h = 0; h < shape_.h; ++h)
        for (std::int64_t w = 0; w < shape_.w; ++w)
          std::memcpy(dst + out.index(n, c, h, w) * elem, src + index(n, c, h, w) * elem, elem);
  return out;
}

std::string Tensor::describe() const {
  std::ostringstream out;
  out << to_string(dtype_) << ' ' << to_string(layout_) << ' ' << shape_.str() << " on " << to_string(device());
  return out.str();
}

void require_shape(const Tensor& t, const Shape& expected, const std::string& what) {
  if (t.shape() != expected)
    throw_error<ShapeError>(what, ": expected shape ", expected.str(), ", got ", t.shape().str());
}

}  // namespace cbednet
