// cuDNN descriptors built from tensors (dtype, layout and logical shape).
#pragma once

#include <cudnn.h>

#include <climits>

#include "core/tensor.hpp"
#include "kernels/cuda/cuda_handles.hpp"

namespace cbednet::cuda {

inline cudnnDataType_t cudnn_dtype(DType d, const char* op) {
  switch (d) {
    case DType::f32:
      return CUDNN_DATA_FLOAT;
    case DType::bf16:
      return CUDNN_DATA_BFLOAT16;
    case DType::f16:
      return CUDNN_DATA_HALF;
    case DType::f64:
      return CUDNN_DATA_DOUBLE;
    case DType::i32:
      return CUDNN_DATA_INT32;
  }
  throw_error<InvalidArgument>("cuda backend, ", op, ": unsupported dtype");
}

inline cudnnTensorFormat_t cudnn_format(Layout l) { return l == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW; }

inline int dim_int(std::int64_t v, const char* op) {
  if (v <= 0 || v > INT_MAX) throw_error<ShapeError>("cuda backend, ", op, ": dimension ", v, " out of cuDNN's range");
  return static_cast<int>(v);
}

// 4-d tensor descriptor of t's shape, dtype and layout.
inline TensorDesc tensor_desc(const Tensor& t, const char* op) {
  TensorDesc d = make_tensor_desc(op);
  const Shape& s = t.shape();
  CBEDNET_CUDNN(op, cudnnSetTensor4dDescriptor(d.get(), cudnn_format(t.layout()), cudnn_dtype(t.dtype(), op),
                                               dim_int(s.n, op), dim_int(s.c, op), dim_int(s.h, op), dim_int(s.w, op)));
  return d;
}

// Filter [K,C,R,S] in the tensor's layout (NHWC = KRSC).
inline FilterDesc filter_desc(const Tensor& w, const char* op) {
  FilterDesc d = make_filter_desc(op);
  const Shape& s = w.shape();
  CBEDNET_CUDNN(op, cudnnSetFilter4dDescriptor(d.get(), cudnn_dtype(w.dtype(), op), cudnn_format(w.layout()),
                                               dim_int(s.n, op), dim_int(s.c, op), dim_int(s.h, op), dim_int(s.w, op)));
  return d;
}

}  // namespace cbednet::cuda
