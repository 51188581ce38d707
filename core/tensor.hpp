// Tensor: a 4-d array (N, C, H, W) of one dtype, in NCHW or NHWC layout, on the host or a CUDA device.
//
// Storage is reference-counted so that a tensor can be a view into a larger buffer (the flat parameter
// buffers of a pipeline stage); the last owner frees it. Tensors move freely; copying data is explicit
// (clone(), Backend::copy). Host storage is 64-byte aligned; device storage comes from the CUDA backend's
// caching allocator through the Allocation interface below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace cbednet {

enum class DType : std::uint8_t { f64, f32, bf16, f16, i32 };
enum class Layout : std::uint8_t { nchw, nhwc };
enum class Device : std::uint8_t { host, cuda };

std::size_t dtype_size(DType dtype);
const char* to_string(DType dtype);
const char* to_string(Layout layout);
const char* to_string(Device device);
DType parse_dtype(const std::string& name);  // "fp64", "fp32", "bf16", "fp16", "i32" (and "f64", "f32", ...)

// Logical shape; always N, C, H, W whatever the memory layout. A matrix [rows, cols] is (rows, cols, 1, 1).
struct Shape {
  std::int64_t n = 0, c = 0, h = 0, w = 0;

  constexpr std::int64_t count() const { return n * c * h * w; }
  constexpr std::int64_t per_sample() const { return c * h * w; }
  constexpr bool operator==(const Shape&) const = default;
  std::string str() const;  // "[N=2, C=3, H=4, W=5]"
};

// A block of memory owned by someone (host heap, CUDA allocator). Freed by the destructor.
class Allocation {
 public:
  virtual ~Allocation() = default;
  virtual void* data() = 0;
  virtual std::size_t bytes() const = 0;
  virtual Device device() const = 0;
};

// 64-byte aligned host memory, zero-initialised.
std::shared_ptr<Allocation> allocate_host(std::size_t bytes);

class Tensor {
 public:
  Tensor() = default;
  // Allocates zeroed host memory.
  Tensor(Shape shape, DType dtype, Layout layout = Layout::nchw);
  // Wraps existing storage (a view at `byte_offset`); the storage must hold the whole tensor.
  Tensor(Shape shape, DType dtype, Layout layout, std::shared_ptr<Allocation> storage, std::size_t byte_offset = 0);

  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;  // copies are explicit: clone() or view()
  Tensor& operator=(const Tensor&) = delete;

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Layout layout() const { return layout_; }
  Device device() const { return storage_ ? storage_->device() : Device::host; }
  std::int64_t count() const { return shape_.count(); }
  std::size_t bytes() const { return static_cast<std::size_t>(count()) * dtype_size(dtype_); }
  bool empty() const { return storage_ == nullptr; }

  void* raw() { return storage_ ? static_cast<std::byte*>(storage_->data()) + offset_ : nullptr; }
  const void* raw() const { return storage_ ? static_cast<const std::byte*>(storage_->data()) + offset_ : nullptr; }

  // Typed host access; throws if the dtype does not match T or the tensor is not on the host.
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  template <typename T>
  std::span<T> span() {
    return {data<T>(), static_cast<std::size_t>(count())};
  }
  template <typename T>
  std::span<const T> span() const {
    return {data<T>(), static_cast<std::size_t>(count())};
  }

  // A new tensor sharing this storage (same dtype/layout), reinterpreted with `shape` (same element count),
  // or a sub-range of `shape.count()` elements starting at element `element_offset`.
  Tensor view() const;
  Tensor view(Shape shape) const;
  Tensor view(Shape shape, std::int64_t element_offset) const;
  Tensor view(Shape shape, std::int64_t element_offset, Layout layout) const;  // same, with another layout
  // Samples [first, first + n) along N (contiguous in both layouts).
  Tensor slice_batch(std::int64_t first, std::int64_t n) const;

  // Deep copy on the host (throws for device tensors; use Backend::copy).
  Tensor clone() const;

  // Host-only conversions: a new tensor with another dtype (f64/f32) or layout.
  Tensor to_dtype(DType dtype) const;
  Tensor to_layout(Layout layout) const;

  // Element index of (n, c, h, w) in this tensor's layout.
  std::int64_t index(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
    return layout_ == Layout::nchw ? ((n * shape_.c + c) * shape_.h + h) * shape_.w + w
                                   : ((n * shape_.h + h) * shape_.w + w) * shape_.c + c;
  }

  const std::shared_ptr<Allocation>& storage() const { return storage_; }
  std::size_t byte_offset() const { return offset_; }
  std::string describe() const;  // "f32 NCHW [N=.., C=.., H=.., W=..] on host"

 private:
  void check_host_dtype(DType expected) const;

  Shape shape_{};
  DType dtype_ = DType::f32;
  Layout layout_ = Layout::nchw;
  std::shared_ptr<Allocation> storage_;
  std::size_t offset_ = 0;
};

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::i32;
}

template <typename T>
T* Tensor::data() {
  check_host_dtype(dtype_of<T>());
  return static_cast<T*>(raw());
}
template <typename T>
const T* Tensor::data() const {
  check_host_dtype(dtype_of<T>());
  return static_cast<const T*>(raw());
}

// Throws ShapeError naming `what` unless the shapes are equal.
void require_shape(const Tensor& t, const Shape& expected, const std::string& what);

}  // namespace cbednet
