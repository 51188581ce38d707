// Every Backend operation as a test Op (forward and backward together) on fixed random inputs, for comparing
// two backends or two layouts of one backend: cases of odd sizes (all_ops()), and the cases that came from the
// CUDA tests (gradient accumulation, the channel-padded 3-channel stem, pooling ties; *_accumulate_ops() etc.).
// Per-channel tensors, class weights and optimizer state are Env::param (the backend's param_dtype()).
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "tests/kernels/kernel_test_util.hpp"

namespace cbednet::test {

struct ConvCase {
  int kernel, stride, pad;
};

// Odd sizes: N=3, C=5, H=11, W=9, K=7.
inline constexpr Shape odd_shape{3, 5, 11, 9};
inline constexpr i64 odd_k = 7;

inline const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases{{3, 1, 1}, {3, 2, 1}, {7, 2, 3}, {1, 1, 0}, {1, 2, 0}, {5, 1, 0}, {3, 3, 2}};
  return cases;
}

inline Op conv_op(ConvCase cc, Shape xs = odd_shape, i64 k = odd_k) {
  return [=](const Env& e) {
    const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
    const Shape ys = g.output_shape(xs, k);
    Tensor x = e.in(random_tensor(xs, 1)), w = e.in(random_tensor({k, xs.c, cc.kernel, cc.kernel}, 2));
    Tensor b = e.in(random_tensor({1, k, 1, 1}, 3)), dy = e.in(random_tensor(ys, 4));
    Tensor y = e.out(ys), dx = e.out(xs), dw = e.out(w.shape()), db = e.out(b.shape());
    e.backend.conv2d_forward(x, w, &b, y, g);
    e.backend.conv2d_backward_data(dy, w, dx, g, GradMode::overwrite);
    e.backend.conv2d_backward_filter(x, dy, dw, &db, g, GradMode::overwrite);
    return outputs(y, dx, dw, db);
  };
}

// y = act(conv(x, w) + bias [+ residual]): a convolution with a batch norm folded in (inference).
inline Op conv_bias_act_op(ConvCase cc, bool residual, Activation act, Shape xs = odd_shape, i64 k = odd_k) {
  return [=](const Env& e) {
    const ConvGeometry g{cc.kernel, cc.kernel, cc.stride, cc.pad};
    const Shape ys = g.output_shape(xs, k);
    Tensor x = e.in(random_tensor(xs, 81)), w = e.in(random_tensor({k, xs.c, cc.kernel, cc.kernel}, 82));
    Tensor b = e.in(random_tensor({1, k, 1, 1}, 83)), res = e.in(random_tensor(ys, 84)), y = e.out(ys);
    e.backend.conv2d_bias_act_forward(x, w, b, residual ? &res : nullptr, act, y, g);
    return outputs(y);
  };
}

inline Op batchnorm_training_op(Activation act, bool residual, Shape xs = odd_shape) {
  return [=](const Env& e) {
    const Shape cs{1, xs.c, 1, 1};
    Tensor x = e.in(random_tensor(xs, 11, -0.5, 1.5)), gamma = e.param(random_tensor(cs, 12, 0.5, 1.5));
    Tensor beta = e.param(random_tensor(cs, 13, -0.5, 0.5)), res = e.in(random_tensor(xs, 14));
    Tensor dy = e.in(random_tensor(xs, 15));
    Tensor y = e.out(xs), mean = e.param_out(cs), var = e.param_out(cs), invstd = e.param_out(cs);
    Tensor dx = e.out(xs), dres = e.out(xs), dgamma = e.param_out(cs), dbeta = e.param_out(cs);
    e.backend.batchnorm_forward_training(x, gamma, beta, residual ? &res : nullptr, act, 1e-5, y, mean, var, invstd);
    e.backend.batchnorm_backward(x, y, dy, gamma, beta, mean, invstd, act, dx, residual ? &dres : nullptr, dgamma,
                                 dbeta, GradMode::overwrite);
    if (residual) return outputs(y, mean, var, invstd, dx, dres, dgamma, dbeta);
    return outputs(y, mean, var, invstd, dx, dgamma, dbeta);
  };
}

inline Op batchnorm_inference_op(Activation act, bool residual) {
  return [=](const Env& e) {
    const Shape xs = odd_shape, cs{1, xs.c, 1, 1};
    Tensor x = e.in(random_tensor(xs, 21)), gamma = e.param(random_tensor(cs, 22, 0.5, 1.5));
    Tensor beta = e.param(random_tensor(cs, 23)), rm = e.param(random_tensor(cs, 24));
    Tensor rv = e.param(random_tensor(cs, 25, 0.5, 1.5)), res = e.in(random_tensor(xs, 26));
    Tensor y = e.out(xs);
    e.backend.batchnorm_forward_inference(x, gamma, beta, rm, rv, residual ? &res : nullptr, act, 1e-5, y);
    return outputs(y);
  };
}

inline Op relu_op() {
  return [](const Env& e) {
    Tensor x = e.in(random_tensor(odd_shape, 31)), dy = e.in(random_tensor(odd_shape, 32));
    Tensor y = e.out(odd_shape), dx = e.out(odd_shape);
    e.backend.relu_forward(x, y);
    e.backend.relu_backward(y, dy, dx);
    return outputs(y, dx);
  };
}

inline Op add_op() {
  return [](const Env& e) {
    Tensor a = e.in(random_tensor(odd_shape, 41)), b = e.in(random_tensor(odd_shape, 42)), y = e.out(odd_shape);
    e.backend.add(a, b, y);
    return outputs(y);
  };
}

inline Op dropout_op(double p) {
  return [=](const Env& e) {
    Tensor x = e.in(random_tensor(odd_shape, 51)), dy = e.in(random_tensor(odd_shape, 52));
    Tensor y = e.out(odd_shape), mask = e.out(odd_shape), dx = e.out(odd_shape);
    const DropoutKey key{RandomStream(5, RngPurpose::dropout), 3, 7};
    e.backend.dropout_forward(x, p, key, y, mask);
    e.backend.dropout_backward(dy, mask, dx);
    return outputs(y, mask, dx);
  };
}

inline Op maxpool_op(PoolGeometry g) {
  return [=](const Env& e) {
    const Shape ys = g.output_shape(odd_shape);
    Tensor x = e.in(random_tensor(odd_shape, 61)), dy = e.in(random_tensor(ys, 62));
    Tensor y = e.out(ys), dx = e.out(odd_shape);
    e.backend.maxpool_forward(x, y, g);
    e.backend.maxpool_backward(x, y, dy, dx, g);
    return outputs(y, dx);
  };
}

inline Op global_avgpool_op() {
  return [](const Env& e) {
    const Shape ys{odd_shape.n, odd_shape.c, 1, 1};
    Tensor x = e.in(random_tensor(odd_shape, 71)), dy = e.in(random_tensor(ys, 72));
    Tensor y = e.out(ys), dx = e.out(odd_shape);
    e.backend.global_avgpool_forward(x, y);
    e.backend.global_avgpool_backward(dy, dx);
    return outputs(y, dx);
  };
}

inline Op linear_op() {
  return [](const Env& e) {
    const i64 n = 3, c = 13, k = 7;
    Tensor x = e.in(random_tensor({n, c, 1, 1}, 81)), w = e.in(random_tensor({k, c, 1, 1}, 82));
    Tensor b = e.in(random_tensor({1, k, 1, 1}, 83)), dy = e.in(random_tensor({n, k, 1, 1}, 84));
    Tensor y = e.out({n, k, 1, 1}), dx = e.out(x.shape()), dw = e.out(w.shape()), db = e.out(b.shape());
    e.backend.linear_forward(x, w, &b, y);
    e.backend.linear_backward_data(dy, w, dx);
    e.backend.linear_backward_weights(x, dy, dw, &db, GradMode::overwrite);
    return outputs(y, dx, dw, db);
  };
}

inline Op softmax_cross_entropy_op(bool weighted, double smoothing) {
  return [=](const Env& e) {
    const i64 n = 5, k = 11;
    Tensor logits = e.in(random_tensor({n, k, 1, 1}, 91, -3.0, 3.0)), labels = e.in(labels_tensor(n, k, 92));
    Tensor cw = e.param(random_tensor({1, k, 1, 1}, 93, 0.5, 2.0));
    Tensor probs = e.backend.allocate({n, k, 1, 1}, e.backend.param_dtype(), e.layout);
    Tensor losses = e.backend.allocate({n, 1, 1, 1}, e.backend.param_dtype(), e.layout);
    Tensor dlogits = e.out({n, k, 1, 1});
    e.backend.softmax_cross_entropy_forward(logits, labels, weighted ? &cw : nullptr, smoothing, probs, losses);
    e.backend.softmax_cross_entropy_backward(probs, labels, weighted ? &cw : nullptr, smoothing, 0.25, dlogits);
    return outputs(probs, losses, dlogits);
  };
}

inline Op sgd_op(bool nesterov) {
  return [=](const Env& e) {
    const Shape s{37, 1, 1, 1};
    Tensor p = e.param(random_tensor(s, 101)), g = e.param(random_tensor(s, 102)), v = e.param(random_tensor(s, 103));
    const SgdUpdate h{0.05, 0.9, 1e-3, nesterov, 0.5};
    e.backend.sgd_update(p, g, v, h);
    e.backend.sgd_update(p, g, v, h);
    return outputs(p, v);
  };
}

using NamedOps = std::vector<std::pair<std::string, Op>>;

inline NamedOps conv_ops() {
  NamedOps ops;
  for (const ConvCase& c : conv_cases())
    ops.emplace_back("conv " + std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + " stride " +
                         std::to_string(c.stride) + " pad " + std::to_string(c.pad),
                     conv_op(c));
  return ops;
}

inline NamedOps conv_bias_act_ops() {
  NamedOps ops;
  for (const ConvCase& c : {ConvCase{3, 1, 1}, ConvCase{1, 2, 0}, ConvCase{7, 2, 3}})
    for (const bool residual : {false, true})
      for (const Activation act : {Activation::none, Activation::relu})
        ops.emplace_back("conv+bias " + std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + " stride " +
                             std::to_string(c.stride) + (residual ? " +residual" : "") +
                             (act == Activation::relu ? " relu" : ""),
                         conv_bias_act_op(c, residual, act));
  return ops;
}

inline NamedOps batchnorm_ops() {
  return {{"batchnorm training", batchnorm_training_op(Activation::none, false)},
          {"batchnorm training relu", batchnorm_training_op(Activation::relu, false)},
          {"batchnorm training residual relu", batchnorm_training_op(Activation::relu, true)},
          {"batchnorm training residual", batchnorm_training_op(Activation::none, true)},
          {"batchnorm inference", batchnorm_inference_op(Activation::none, false)},
          {"batchnorm inference residual relu", batchnorm_inference_op(Activation::relu, true)}};
}

inline NamedOps elementwise_ops() { return {{"relu", relu_op()}, {"add", add_op()}, {"dropout", dropout_op(0.3)}}; }

inline NamedOps pooling_ops() {
  return {{"maxpool 3x3 s2 p1", maxpool_op({3, 2, 1})},
          {"maxpool 2x2 s2 p0", maxpool_op({2, 2, 0})},
          {"global avgpool", global_avgpool_op()}};
}

inline NamedOps linear_ops() { return {{"linear", linear_op()}}; }

inline NamedOps loss_ops() {
  return {{"softmax cross-entropy weighted smoothed", softmax_cross_entropy_op(true, 0.1)},
          {"softmax cross-entropy", softmax_cross_entropy_op(false, 0.0)}};
}

inline NamedOps sgd_ops() { return {{"sgd", sgd_op(false)}, {"sgd nesterov", sgd_op(true)}}; }

// Every operation of odd sizes, named, in a fixed order.
inline NamedOps all_ops() {
  NamedOps ops;
  for (NamedOps part :
       {conv_ops(), batchnorm_ops(), elementwise_ops(), pooling_ops(), linear_ops(), loss_ops(), sgd_ops()})
    for (auto& named : part) ops.push_back(std::move(named));
  return ops;
}

// ---- the cases that came from the CUDA tests (random streams 77 and 78, as they were there) --------------------

inline Tensor device_case_random(Shape shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return random_tensor(shape, seed, lo, hi, 77);
}

inline NamedOps fill_scale_axpy_ops() {
  return {{"fill/scale/axpy", [](const Env& e) {
             Tensor a = e.in(device_case_random({2, 8, 3, 3}, 2));
             Tensor b = e.in(device_case_random({2, 8, 3, 3}, 3));
             e.backend.scale(b, 0.5);
             e.backend.axpy(-2.0, a, b);
             Tensor f = e.out({1, 8, 2, 2});
             e.backend.fill(f, 0.25);
             return outputs(std::move(b), std::move(f));
           }}};
}

// Gradients accumulated onto existing values (a residual block's shortcut gradient, micro-batch accumulation);
// 3 input channels (the stem) take the channel-padded path of 16-bit NHWC CUDA modes.
inline NamedOps conv_accumulate_ops() {
  NamedOps ops;
  for (const i64 channels : {8, 3})
    for (const ConvGeometry g :
         {ConvGeometry{3, 3, 1, 1}, ConvGeometry{3, 3, 2, 1}, ConvGeometry{1, 1, 2, 0}, ConvGeometry{7, 7, 2, 3}}) {
      const Shape xs{2, channels, 9, 9};
      const Shape ws{16, channels, g.kernel_h, g.kernel_w};
      const Shape ys = g.output_shape(xs, 16);
      ops.emplace_back("conv accumulate " + std::to_string(channels) + " channels, kernel " +
                           std::to_string(g.kernel_h) + " stride " + std::to_string(g.stride),
                       [=](const Env& e) {
                         Tensor x = e.in(device_case_random(xs, 10)), w = e.in(device_case_random(ws, 11, -0.3, 0.3));
                         Tensor b = e.in(device_case_random({1, 16, 1, 1}, 12));
                         Tensor y = e.out(ys);
                         e.backend.conv2d_forward(x, w, &b, y, g);
                         Tensor dy = e.in(device_case_random(ys, 13));
                         // First, so that a CUDA algorithm search runs in accumulate mode (it must not write over
                         // dx_sum).
                         Tensor dx_sum = e.in(device_case_random(xs, 16));
                         e.backend.conv2d_backward_data(dy, w, dx_sum, g, GradMode::accumulate);
                         Tensor dx = e.out(xs);
                         e.backend.conv2d_backward_data(dy, w, dx, g, GradMode::overwrite);
                         Tensor dw = e.in(device_case_random(ws, 14));  // accumulated onto
                         Tensor db = e.in(device_case_random({1, 16, 1, 1}, 15));
                         e.backend.conv2d_backward_filter(x, dy, dw, &db, g, GradMode::accumulate);
                         Tensor dw2 = e.out(ws);
                         e.backend.conv2d_backward_filter(x, dy, dw2, nullptr, g, GradMode::overwrite);
                         return outputs(std::move(y), std::move(dx), std::move(dw), std::move(db), std::move(dw2),
                                        std::move(dx_sum));
                       });
    }
  return ops;
}

inline Op batchnorm_accumulate_op(bool residual, Activation act) {
  return [=](const Env& e) {
    const Shape xs{4, 16, 5, 5}, ps{1, 16, 1, 1};
    Tensor x = e.in(device_case_random(xs, 20, -2.0, 3.0));
    Tensor r = e.in(device_case_random(xs, 21));
    Tensor gamma = e.param(device_case_random(ps, 22, 0.5, 1.5)), beta = e.param(device_case_random(ps, 23));
    Tensor y = e.out(xs), mean = e.param_out(ps), var = e.param_out(ps), invstd = e.param_out(ps);
    e.backend.batchnorm_forward_training(x, gamma, beta, residual ? &r : nullptr, act, 1e-5, y, mean, var, invstd);
    Tensor dy = e.in(device_case_random(xs, 24));
    Tensor dx = e.out(xs), dr = e.out(xs);
    Tensor dgamma = e.param(device_case_random(ps, 25)), dbeta = e.param(device_case_random(ps, 26));
    e.backend.batchnorm_backward(x, y, dy, gamma, beta, mean, invstd, act, dx, residual ? &dr : nullptr, dgamma, dbeta,
                                 GradMode::accumulate);
    std::vector<Tensor> out = outputs(std::move(y), std::move(mean), std::move(var), std::move(invstd), std::move(dx),
                                      std::move(dgamma), std::move(dbeta));
    if (residual) out.push_back(std::move(dr));
    return out;
  };
}

inline NamedOps batchnorm_accumulate_ops() {
  NamedOps ops;
  for (const bool residual : {false, true})
    for (const Activation act : {Activation::none, Activation::relu})
      ops.emplace_back(std::string("batchnorm accumulate residual=") + (residual ? "yes" : "no") +
                           " relu=" + (act == Activation::relu ? "yes" : "no"),
                       batchnorm_accumulate_op(residual, act));
  ops.emplace_back("batchnorm inference 3x8x4x4", [](const Env& e) {
    const Shape xs{3, 8, 4, 4}, ps{1, 8, 1, 1};
    Tensor x = e.in(device_case_random(xs, 30)), r = e.in(device_case_random(xs, 31));
    Tensor gamma = e.param(device_case_random(ps, 32, 0.5, 1.5)), beta = e.param(device_case_random(ps, 33));
    Tensor rm = e.param(device_case_random(ps, 34)), rv = e.param(device_case_random(ps, 35, 0.5, 2.0));
    Tensor y1 = e.out(xs), y2 = e.out(xs);
    e.backend.batchnorm_forward_inference(x, gamma, beta, rm, rv, nullptr, Activation::none, 1e-5, y1);
    e.backend.batchnorm_forward_inference(x, gamma, beta, rm, rv, &r, Activation::relu, 1e-5, y2);
    return outputs(std::move(y1), std::move(y2));
  });
  return ops;
}

inline NamedOps relu_add_dropout_ops() {
  return {{"relu/add/dropout 3x8x4x5", [](const Env& e) {
             const Shape xs{3, 8, 4, 5};
             Tensor x = e.in(device_case_random(xs, 40)), b = e.in(device_case_random(xs, 41));
             Tensor dy = e.in(device_case_random(xs, 42));
             Tensor y = e.out(xs), dx = e.out(xs), s = e.out(xs);
             e.backend.relu_forward(x, y);
             e.backend.relu_backward(y, dy, dx);
             e.backend.add(x, b, s);
             const DropoutKey key{RandomStream(1234, RngPurpose::dropout, 5), 17, 40};
             Tensor dy_out = e.out(xs), mask = e.out(xs), ddx = e.out(xs);
             e.backend.dropout_forward(x, 0.3, key, dy_out, mask);
             e.backend.dropout_backward(dy, mask, ddx);
             return outputs(std::move(y), std::move(dx), std::move(s), std::move(dy_out), std::move(mask),
                            std::move(ddx));
           }}};
}

// Few distinct values, so that windows have ties and the first-maximum rule matters.
inline NamedOps pooling_ties_ops() {
  NamedOps ops;
  for (const PoolGeometry g : {PoolGeometry{3, 2, 1}, PoolGeometry{2, 2, 0}})
    ops.emplace_back("pooling with ties, kernel " + std::to_string(g.kernel), [=](const Env& e) {
      const Shape xs{2, 8, 9, 9};
      const Shape ys = g.output_shape(xs);
      Tensor xr = device_case_random(xs, 50);
      for (double& v : xr.span<double>()) v = std::round(v * 3.0) / 4.0;
      Tensor x = e.in(xr);
      Tensor y = e.out(ys), dy = e.in(device_case_random(ys, 51)), dx = e.out(xs);
      e.backend.maxpool_forward(x, y, g);
      e.backend.maxpool_backward(x, y, dy, dx, g);
      Tensor a = e.out({2, 8, 1, 1}), da = e.in(device_case_random({2, 8, 1, 1}, 52)), dax = e.out(xs);
      e.backend.global_avgpool_forward(x, a);
      e.backend.global_avgpool_backward(da, dax);
      return outputs(std::move(y), std::move(dx), std::move(a), std::move(dax));
    });
  return ops;
}

inline NamedOps linear_accumulate_ops() {
  return {{"linear accumulate", [](const Env& e) {
             Tensor x = e.in(device_case_random({6, 24, 1, 1}, 60)), w = e.in(device_case_random({10, 24, 1, 1}, 61));
             Tensor b = e.in(device_case_random({1, 10, 1, 1}, 62)), y = e.out({6, 10, 1, 1});
             e.backend.linear_forward(x, w, &b, y);
             Tensor dy = e.in(device_case_random({6, 10, 1, 1}, 63)), dx = e.out({6, 24, 1, 1});
             e.backend.linear_backward_data(dy, w, dx);
             Tensor dw = e.in(device_case_random({10, 24, 1, 1}, 64)), db = e.in(device_case_random({1, 10, 1, 1}, 65));
             e.backend.linear_backward_weights(x, dy, dw, &db, GradMode::accumulate);
             return outputs(std::move(y), std::move(dx), std::move(dw), std::move(db));
           }}};
}

inline NamedOps loss_weighted_ops() {
  return {{"softmax cross-entropy 5x12", [](const Env& e) {
             Tensor logits = e.in(device_case_random({5, 12, 1, 1}, 70, -3.0, 3.0));
             Tensor labels = e.in(labels_tensor(5, 12, 71, 78, 3));
             Tensor weights = e.param(device_case_random({1, 12, 1, 1}, 72, 0.5, 2.0));
             Tensor probs = e.param_out({5, 12, 1, 1}), losses = e.param_out({5, 1, 1, 1});
             e.backend.softmax_cross_entropy_forward(logits, labels, &weights, 0.1, probs, losses);
             Tensor dl = e.out({5, 12, 1, 1});
             e.backend.softmax_cross_entropy_backward(probs, labels, &weights, 0.1, 0.2, dl);
             Tensor probs2 = e.param_out({5, 12, 1, 1}), losses2 = e.param_out({5, 1, 1, 1});
             e.backend.softmax_cross_entropy_forward(logits, labels, nullptr, 0.0, probs2, losses2);
             return outputs(std::move(probs), std::move(losses), std::move(dl), std::move(losses2));
           }}};
}

inline NamedOps sgd_4d_ops() {
  NamedOps ops;
  for (const bool nesterov : {false, true})
    ops.emplace_back(nesterov ? "sgd 3x4x2x2 nesterov" : "sgd 3x4x2x2", [=](const Env& e) {
      Tensor p = e.param(device_case_random({3, 4, 2, 2}, 80)), g = e.param(device_case_random({3, 4, 2, 2}, 81));
      Tensor v = e.param(device_case_random({3, 4, 2, 2}, 82));
      e.backend.sgd_update(p, g, v, SgdUpdate{0.1, 0.9, 1e-4, nesterov, 0.5});
      return outputs(std::move(p), std::move(v));
    });
  return ops;
}

// Flat buffers of 96 elements cut as a ParamStore cuts its buffers: decayed and undecayed runs, gaps (alignment
// padding, which the flat-buffer operations must leave as it was) and an empty segment.
inline constexpr Shape flat_case_shape{1, 96, 1, 1};
inline std::vector<FlatSegment> flat_case_segments() {
  return {{0, 5, true}, {8, 3, false}, {11, 7, true}, {30, 1, false}, {64, 0, true}, {70, 10, true}, {80, 16, false}};
}

// A flat buffer in the backend's activation dtype (the compute copies of mixed precision), NCHW as a ParamStore's.
inline Tensor flat_act(const Env& e, std::uint64_t seed) {
  Tensor out = e.backend.allocate(flat_case_shape, e.backend.dtype(), Layout::nchw);
  e.backend.copy(e.in(random_tensor(flat_case_shape, seed)), out);
  return out;
}

inline NamedOps flat_segments_ops() {
  NamedOps ops;
  for (const bool nesterov : {false, true})
    ops.emplace_back(nesterov ? "sgd_update_segments nesterov" : "sgd_update_segments", [=](const Env& e) {
      Tensor p = e.param(random_tensor(flat_case_shape, 111)), g = e.param(random_tensor(flat_case_shape, 112));
      Tensor v = e.param(random_tensor(flat_case_shape, 113));
      const SgdUpdate h{0.05, 0.9, 1e-2, nesterov, 0.5};
      e.backend.sgd_update_segments(p, g, v, flat_case_segments(), h);
      e.backend.sgd_update_segments(p, g, v, flat_case_segments(), h);
      return outputs(std::move(p), std::move(v));
    });
  ops.emplace_back("copy_segments master -> compute -> master", [](const Env& e) {
    Tensor master = e.param(random_tensor(flat_case_shape, 121)), compute = flat_act(e, 122);
    Tensor back = e.param(random_tensor(flat_case_shape, 123));
    e.backend.copy_segments(master, compute, flat_case_segments());
    e.backend.copy_segments(compute, back, flat_case_segments());
    return outputs(std::move(compute), std::move(back));
  });
  ops.emplace_back("fold_running_statistics", [](const Env& e) {
    Tensor running = e.param(random_tensor(flat_case_shape, 151, 0.5, 2.0));
    Tensor sums = e.param(random_tensor(flat_case_shape, 152, -1.0, 3.0));
    e.backend.fold_running_statistics(running, sums, 0.1, 3.0);
    Tensor sums_again = e.param(random_tensor(flat_case_shape, 153));
    e.backend.fold_running_statistics(running, sums_again, 0.25, 1.0);
    return outputs(std::move(running));
  });
  return ops;
}

}  // namespace cbednet::test
