// Host fp64 copies of a store's flat buffers, for the optimizer rules that have no backend operation (AdamW,
// LARS, LAMB, the global norm): the update runs on the host in fp64 on every backend and is copied back, rounded
// once to the master dtype. On the CPU backends this is a copy in memory; on a GPU it crosses PCIe each step.
#pragma once

#include "kernels/backend.hpp"

namespace cbednet {

inline Tensor host_f64_copy(Backend& backend, const Tensor& flat) {
  Tensor host(flat.shape(), DType::f64, Layout::nchw);
  backend.copy(flat, host);
  return host;
}

}  // namespace cbednet
