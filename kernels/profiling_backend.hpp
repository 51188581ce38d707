// ProfilingBackend: a Backend that forwards every operation to another one and measures it, for
// `cbednet bench --profile-ops`. Each timed operation is bracketed by synchronize() on both sides, so the time
// is the operation alone (device kernels included) at the price of losing overlap between operations; report
// the unprofiled throughput beside it. Keys are the operation and its main tensor's shape and dtype, so the
// report says which layer shapes take the time. Not for training runs.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "kernels/backend.hpp"

namespace cbednet {

// Not final: tests/core/test_training_graph.cpp derives a stand-in that records (replays the work it was given).
class ProfilingBackend : public Backend {
 public:
  struct Entry {
    std::string op;     // "conv2d_forward"
    std::string shape;  // main tensor, e.g. "bf16 [64,256,128,128]"
    long calls = 0;
    double seconds = 0;
  };

  explicit ProfilingBackend(Backend& inner) : inner_(inner) {}

  // Measured entries, largest total time first; reset() forgets them (after warm-up steps).
  std::vector<Entry> entries() const;
  void reset() { times_.clear(); }

  std::string name() const override { return inner_.name(); }
  Device device() const override { return inner_.device(); }
  DType dtype() const override { return inner_.dtype(); }
  DType param_dtype() const override { return inner_.param_dtype(); }
  Layout layout() const override { return inner_.layout(); }
  TensorRules rules() const override { return inner_.rules(); }
  std::vector<std::pair<std::string, std::string>> device_facts() const override { return inner_.device_facts(); }
  Tensor allocate(Shape shape, DType dtype, Layout layout) override { return inner_.allocate(shape, dtype, layout); }
  using Backend::allocate;
  void synchronize() override { inner_.synchronize(); }
  // Never records: each operation must run (and be timed) eagerly, so callers take their eager path.
  std::unique_ptr<CapturedWork> capture(const std::function<void()>& /*work*/) override { return nullptr; }

  void copy(const Tensor& src, Tensor& dst) override;
  void upload_async(const Tensor& host_src, Tensor& dst) override;
  void fill(Tensor& t, double value) override;
  void axpy(double alpha, const Tensor& x, Tensor& y) override;
  void scale(Tensor& t, double alpha) override;
  bool all_finite(const Tensor& t) override;

 protected:
  // Each forwards to the inner backend's public operation, so the shared checks run TWICE per call: in this
  // wrapper's public operation (with the inner backend's rules(), before the timed region) and again in the inner
  // backend's (inside it). Harmless: the same checks on the same tensors, cheap next to the operation; and the
  // inner backend's hooks stay protected.
  void do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                         const ConvGeometry& g) override;
  void do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                               GradMode mode) override;
  void do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias, const ConvGeometry& g,
                                 GradMode mode) override;
  void do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                                  Activation act, Tensor& y, const ConvGeometry& g) override;
  void do_batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor* residual,
                                     Activation act, double eps, Tensor& y, Tensor& mean, Tensor& var,
                                     Tensor& invstd) override;
  void do_batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                      const Tensor& running_mean, const Tensor& running_var, const Tensor* residual,
                                      Activation act, double eps, Tensor& y) override;
  void do_batchnorm_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                             const Tensor& beta, const Tensor& mean, const Tensor& invstd, Activation act, Tensor& dx,
                             Tensor* dresidual, Tensor& dgamma, Tensor& dbeta, GradMode mode) override;
#include "kernels/fused_norm_overrides.inc"
  void do_relu_forward(const Tensor& x, Tensor& y) override;
  void do_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void do_add(const Tensor& a, const Tensor& b, Tensor& y) override;
  void do_dropout_forward(const Tensor& x, double p, const DropoutKey& key, Tensor& y, Tensor& mask) override;
  void do_dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) override;
  void do_maxpool_forward(const Tensor& x, Tensor& y, const PoolGeometry& g) override;
  void do_maxpool_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                           const PoolGeometry& g) override;
  void do_global_avgpool_forward(const Tensor& x, Tensor& y) override;
  void do_global_avgpool_backward(const Tensor& dy, Tensor& dx) override;
  void do_linear_forward(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) override;
  void do_linear_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx) override;
  void do_linear_backward_weights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db, GradMode mode) override;
  void do_softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor* class_weights,
                                        double label_smoothing, Tensor& probs, Tensor& losses) override;
  void do_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor* class_weights,
                                         double label_smoothing, double scale, Tensor& dlogits) override;
  void do_loss_statistics(const Tensor& probs, const Tensor& losses, const Tensor& labels, Tensor& stats) override;
  void do_sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const SgdUpdate& h) override;
  void do_sgd_update_segments(Tensor& param, const Tensor& grad, Tensor& momentum,
                              std::span<const FlatSegment> segments, const SgdUpdate& h) override;
  void do_copy_segments(const Tensor& src, Tensor& dst, std::span<const FlatSegment> segments) override;
  void do_fold_running_statistics(Tensor& running, Tensor& sums, double momentum, double micro_batches) override;

 private:
  // Runs op() between two synchronize() calls and adds its time to (name, key).
  template <typename Op>
  void timed(const char* name, const Tensor& key, Op&& op);

  Backend& inner_;
  std::map<std::pair<std::string, std::string>, Entry> times_;
};

}  // namespace cbednet
