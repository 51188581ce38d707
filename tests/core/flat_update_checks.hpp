// The step's flat-buffer updates against the per-parameter ones they replaced (docs/gpu-backend.md, "Fewer
// launches"), written once for any backend (tests/core/test_flat_updates.cpp on the CPU backends,
// tests/gpu/cuda_flat_updates_test.cpp on the GPU): two identical models train side by side from the same
// gradients (one runs forward and backward, the other gets copies of its gradients and statistic sums, so only the
// updates are compared), one through apply_update (one sgd_update_segments per store, the batch-norm running
// statistics as three operations over the flat buffers, the mixed-precision gather and refresh as one copy_segments
// each), the other as the code did before (per layer and per parameter); after every step their weights, momentum,
// compute copies and running statistics must have the same bits.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/layers/batchnorm.hpp"
#include "core/model/train_step.hpp"

namespace cbednet::test {

inline ResNetSpec flat_update_spec() {
  ResNetSpec spec = resnet_spec("bottleneck:1,1");  // conv weights, BN parameters and the linear bias: every kind
  spec.base_width = 8;
  spec.input_size = 12;
  spec.classes = 5;
  spec.stem = StemKind::small;
  return spec;
}

// The step's update as it was: the compute-dtype gradients gathered, each BatchNorm's own running-statistics update,
// one sgd_update per parameter (weight decay on conv and linear weights), each compute-dtype copy refreshed.
inline void per_parameter_update(Model& model, Stage& stage, const SgdConfig& config, std::int64_t micro_batches,
                                 const TrainStepOptions& options) {
  Backend& backend = stage.backend();
  ParamStore& store = stage.store();
  const bool mixed = backend.dtype() != backend.param_dtype();
  for (ParamEntry& p : store.params())
    if (mixed && in_compute_dtype(p.kind)) backend.copy(p.compute_grad, p.grad);
  for (std::size_t b = 0; b < model.size(); ++b)
    for (Layer* layer : model.block(b).layers())
      if (auto* bn = dynamic_cast<BatchNorm*>(layer))
        bn->update_running_statistics(backend, options.bn_momentum, static_cast<double>(micro_batches));
  for (ParamEntry& p : store.params()) {
    const SgdUpdate h{options.lr, config.momentum, is_decayed(p.kind) ? config.weight_decay : 0.0, config.nesterov,
                      1.0 / options.loss_scale};
    backend.sgd_update(p.master, p.grad, p.momentum, h);
  }
  for (ParamEntry& p : store.params())
    if (mixed && in_compute_dtype(p.kind)) backend.copy(p.master, p.compute);
}

inline bool same_bits_on_host(Backend& backend, const Tensor& a, const Tensor& b) {
  Tensor ha(a.shape(), a.dtype(), a.layout()), hb(b.shape(), b.dtype(), b.layout());
  backend.copy(a, ha);
  backend.copy(b, hb);
  return ha.bytes() == hb.bytes() && std::memcmp(ha.raw(), hb.raw(), ha.bytes()) == 0;
}

// `steps` steps of both models on `backend`; fails on the first step whose state differs in a bit.
inline void expect_flat_update_matches_per_parameter(Backend& backend, bool nesterov, int steps = 3) {
  Model flat_model = build_resnet(flat_update_spec()), each_model = build_resnet(flat_update_spec());
  Stage flat(backend, flat_model, 0, flat_model.size(), 42), each(backend, each_model, 0, each_model.size(), 42);
  SoftmaxCrossEntropy loss_flat(flat_model.classes(), 0.1);
  const SgdConfig config{0.9, 1e-2, nesterov};
  SgdOptimizer optimizer(config);
  const std::int64_t batch = 8, micro = 4;
  Tensor images(flat_model.input_shape(batch), DType::f32);
  Tensor labels({batch, 1, 1, 1}, DType::i32);
  const RandomStream s(7, RngPurpose::test);
  for (std::int64_t i = 0; i < images.count(); ++i) images.data<float>()[i] = static_cast<float>(s.normal(i));
  for (std::int64_t i = 0; i < batch; ++i) labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i % 5);
  const std::string what = backend.name() + " " + to_string(backend.dtype()) + (nesterov ? " nesterov" : "");
  const bool mixed = backend.dtype() != backend.param_dtype();
  for (int step = 0; step < steps; ++step) {
    const TrainStepOptions options{micro, 0.05, 0.1, 3, static_cast<std::uint64_t>(step), 1.0};
    ParamStore &x = flat.store(), &y = each.store();
    x.zero_grad();
    accumulate_gradients(flat, loss_flat, images, labels, batch, 0, options);
    backend.copy(x.grad(), y.grad());
    backend.copy(x.accumulators(), y.accumulators());
    for (std::size_t i = 0; i < x.params().size(); ++i)
      if (mixed && in_compute_dtype(x.params()[i].kind))
        backend.copy(x.params()[i].compute_grad, y.params()[i].compute_grad);
    apply_update(flat, optimizer, batch / micro, options);
    per_parameter_update(each_model, each, config, batch / micro, options);
    ASSERT_TRUE(same_bits_on_host(backend, x.master(), y.master())) << what << ": weights, step " << step;
    ASSERT_TRUE(same_bits_on_host(backend, x.momentum(), y.momentum())) << what << ": momentum, step " << step;
    ASSERT_TRUE(same_bits_on_host(backend, x.buffer_storage(), y.buffer_storage()))
        << what << ": batch-norm running statistics, step " << step;
    ASSERT_TRUE(same_bits_on_host(backend, x.accumulators(), y.accumulators()))
        << what << ": batch-norm step sums (cleared), step " << step;
    for (std::size_t i = 0; i < x.params().size(); ++i)
      ASSERT_TRUE(same_bits_on_host(backend, x.params()[i].compute, y.params()[i].compute))
          << what << ": compute copy of " << x.params()[i].name << ", step " << step;
  }
}

}  // namespace cbednet::test
