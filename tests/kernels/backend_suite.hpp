// The per-operation test bodies, written once for every backend (Kokkos' TEST_CATEGORY files): a typed GoogleTest
// suite over a backend factory type. tests/kernels/backend_suite_cpu_test.cpp instantiates it for the CPU
// backends, tests/gpu/backend_suite_cuda_test.cpp for the CUDA backend (only built with CBEDNET_CUDA=ON).
//
// A factory type provides
//   static std::unique_ptr<Backend> make();  // the backend under test; nullptr skips (no CUDA device)
//   static constexpr Layout layout;          // the layout its activations are given in
//   static constexpr double tol;             // max |test - ref| / max |ref| against the fp64 ReferenceBackend
// Every output of every case is compared with the ReferenceBackend's on the same inputs (rounded to the tested
// backend's dtypes first), and every bad call must be rejected with the reference's exception and message.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "kernels/cpu/reference_backend.hpp"
#include "tests/kernels/backend_checks.hpp"
#include "tests/kernels/fused_norm_ops.hpp"
#include "tests/kernels/kernel_ops.hpp"
#include "tests/kernels/loss_statistics_ops.hpp"

namespace cbednet::test {

template <typename Factory>
class BackendOps : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = Factory::make();
    if (!backend_) GTEST_SKIP() << "backend not available here (no CUDA device)";
  }
  Env tested() const { return Env{*backend_, Factory::layout, nullptr}; }
  Env reference() { return Env{reference_, Layout::nchw, backend_.get()}; }
  // Every case of every list against the reference.
  void expect_match(std::initializer_list<NamedOps> lists) {
    for (const NamedOps& ops : lists)
      for (const auto& [name, op] : ops) expect_close(op, tested(), reference(), Factory::tol, name);
  }

  std::unique_ptr<Backend> backend_;
  ReferenceBackend reference_;
};

TYPED_TEST_SUITE_P(BackendOps);

TYPED_TEST_P(BackendOps, Convolution) { this->expect_match({conv_ops(), conv_accumulate_ops()}); }
TYPED_TEST_P(BackendOps, ConvolutionBiasActivation) { this->expect_match({conv_bias_act_ops()}); }
TYPED_TEST_P(BackendOps, BatchNorm) { this->expect_match({batchnorm_ops(), batchnorm_accumulate_ops()}); }
TYPED_TEST_P(BackendOps, ElementwiseAndMemory) {
  this->expect_match({elementwise_ops(), relu_add_dropout_ops(), fill_scale_axpy_ops()});
}
TYPED_TEST_P(BackendOps, Pooling) { this->expect_match({pooling_ops(), pooling_ties_ops()}); }
TYPED_TEST_P(BackendOps, Linear) { this->expect_match({linear_ops(), linear_accumulate_ops()}); }
TYPED_TEST_P(BackendOps, SoftmaxCrossEntropy) { this->expect_match({loss_ops(), loss_weighted_ops()}); }
// A step's loss statistics on the device: against the reference and against the values computed in the test.
TYPED_TEST_P(BackendOps, LossStatistics) {
  this->expect_match({loss_statistics_ops()});
  expect_loss_statistics_definition(this->tested());
}
TYPED_TEST_P(BackendOps, SgdUpdate) { this->expect_match({sgd_ops(), sgd_4d_ops()}); }

TYPED_TEST_P(BackendOps, FlatSegments) { this->expect_match({flat_segments_ops()}); }
// One operation over the flat buffers gives the bits of one call per parameter (what keeps every training run's
// results unchanged by it).
TYPED_TEST_P(BackendOps, FlatSegmentsMatchPerParameterBitwise) { expect_flat_segments_bitwise(this->tested()); }

// The fused batch-norm operations: against the reference, against their formulas computed in the test, and against
// the unfused operations they replace.
TYPED_TEST_P(BackendOps, FusedBatchNorm) { this->expect_match({fused_norm_ops()}); }
TYPED_TEST_P(BackendOps, FusedBatchNormMatchesDefinition) {
  expect_fused_norm_definitions(this->tested(), TypeParam::tol);
}
TYPED_TEST_P(BackendOps, FusedBatchNormMatchesUnfused) { expect_fused_matches_unfused(this->tested(), TypeParam::tol); }

TYPED_TEST_P(BackendOps, ShapeErrorsNameTheOperation) { expect_shape_errors(this->tested()); }

// The check layer is shared (kernels/op_checks.hpp): every backend rejects a bad call as the reference does.
TYPED_TEST_P(BackendOps, BadCallsAreRejectedAsByTheReference) {
  expect_same_rejections(this->tested(), this->reference());
}

REGISTER_TYPED_TEST_SUITE_P(BackendOps, Convolution, ConvolutionBiasActivation, BatchNorm, ElementwiseAndMemory,
                            Pooling, Linear, SoftmaxCrossEntropy, LossStatistics, SgdUpdate, FlatSegments,
                            FlatSegmentsMatchPerParameterBitwise, FusedBatchNorm, FusedBatchNormMatchesDefinition,
                            FusedBatchNormMatchesUnfused, ShapeErrorsNameTheOperation,
                            BadCallsAreRejectedAsByTheReference);

}  // namespace cbednet::test
