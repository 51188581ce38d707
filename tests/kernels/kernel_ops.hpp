// Every Backend operation as a test Op (forward and backward together) on fixed random inputs of odd sizes,
// for comparing two backends or two layouts of one backend.
#pragma once

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

inline Op batchnorm_training_op(Activation act, bool residual, Shape xs = odd_shape) {
  return [=](const Env& e) {
    const Shape cs{1, xs.c, 1, 1};
    Tensor x = e.in(random_tensor(xs, 11, -0.5, 1.5)), gamma = e.in(random_tensor(cs, 12, 0.5, 1.5));
    Tensor beta = e.in(random_tensor(cs, 13, -0.5, 0.5)), res = e.in(random_tensor(xs, 14));
    Tensor dy = e.in(random_tensor(xs, 15));
    Tensor y = e.out(xs), mean = e.out(cs), var = e.out(cs), invstd = e.out(cs);
    Tensor dx = e.out(xs), dres = e.out(xs), dgamma = e.out(cs), dbeta = e.out(cs);
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
    Tensor x = e.in(random_tensor(xs, 21)), gamma = e.in(random_tensor(cs, 22, 0.5, 1.5));
    Tensor beta = e.in(random_tensor(cs, 23)), rm = e.in(random_tensor(cs, 24));
    Tensor rv = e.in(random_tensor(cs, 25, 0.5, 1.5)), res = e.in(random_tensor(xs, 26));
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
    Tensor cw = e.in(random_tensor({1, k, 1, 1}, 93, 0.5, 2.0));
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
    Tensor p = e.in(random_tensor(s, 101)), g = e.in(random_tensor(s, 102)), v = e.in(random_tensor(s, 103));
    const SgdUpdate h{0.05, 0.9, 1e-3, nesterov, 0.5};
    e.backend.sgd_update(p, g, v, h);
    e.backend.sgd_update(p, g, v, h);
    return outputs(p, v);
  };
}

// Every operation, named.
inline std::vector<std::pair<std::string, Op>> all_ops() {
  std::vector<std::pair<std::string, Op>> ops;
  for (const ConvCase& c : conv_cases())
    ops.emplace_back("conv " + std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + " stride " +
                         std::to_string(c.stride) + " pad " + std::to_string(c.pad),
                     conv_op(c));
  ops.emplace_back("batchnorm training", batchnorm_training_op(Activation::none, false));
  ops.emplace_back("batchnorm training relu", batchnorm_training_op(Activation::relu, false));
  ops.emplace_back("batchnorm training residual relu", batchnorm_training_op(Activation::relu, true));
  ops.emplace_back("batchnorm training residual", batchnorm_training_op(Activation::none, true));
  ops.emplace_back("batchnorm inference", batchnorm_inference_op(Activation::none, false));
  ops.emplace_back("batchnorm inference residual relu", batchnorm_inference_op(Activation::relu, true));
  ops.emplace_back("relu", relu_op());
  ops.emplace_back("add", add_op());
  ops.emplace_back("dropout", dropout_op(0.3));
  ops.emplace_back("maxpool 3x3 s2 p1", maxpool_op({3, 2, 1}));
  ops.emplace_back("maxpool 2x2 s2 p0", maxpool_op({2, 2, 0}));
  ops.emplace_back("global avgpool", global_avgpool_op());
  ops.emplace_back("linear", linear_op());
  ops.emplace_back("softmax cross-entropy weighted smoothed", softmax_cross_entropy_op(true, 0.1));
  ops.emplace_back("softmax cross-entropy", softmax_cross_entropy_op(false, 0.0));
  ops.emplace_back("sgd", sgd_op(false));
  ops.emplace_back("sgd nesterov", sgd_op(true));
  return ops;
}

}  // namespace cbednet::test
