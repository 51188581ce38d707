// The shared per-operation suite (backend_suite.hpp) on the CPU backends: the fp64 reference given NHWC
// activations (against itself in NCHW), the fast CpuBackend in fp32 and fp64, and ProfilingBackend around the
// fp32 one. Also the definitions every CPU backend must meet exactly: batch-norm statistics, gradient modes and
// the SGD closed form.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "kernels/profiling_backend.hpp"
#include "tests/kernels/backend_checks.hpp"
#include "tests/kernels/backend_suite.hpp"

namespace cbednet::test {
namespace {

// Per factory: the suite's `tol` against the reference; statistics_tol, grad_mode_tol and sgd_tol for the
// definitions below.
struct ReferenceNhwc {
  static std::unique_ptr<Backend> make() { return std::make_unique<ReferenceBackend>(); }
  static constexpr Layout layout = Layout::nhwc;
  static constexpr double tol = 1e-13;
  static constexpr double statistics_tol = 1e-12, grad_mode_tol = 1e-15, sgd_tol = 1e-14;
};

struct CpuFp32 {
  static std::unique_ptr<Backend> make() { return std::make_unique<CpuBackend<float>>(0); }
  static constexpr Layout layout = Layout::nchw;
  static constexpr double tol = 1e-4;
  static constexpr double statistics_tol = 1e-5, grad_mode_tol = 1e-6, sgd_tol = 1e-6;
};

struct CpuFp64 {
  static std::unique_ptr<Backend> make() { return std::make_unique<CpuBackend<double>>(0); }
  static constexpr Layout layout = Layout::nchw;
  static constexpr double tol = 1e-12;
  static constexpr double statistics_tol = 1e-12, grad_mode_tol = 1e-15, sgd_tol = 1e-14;
};

// ProfilingBackend forwards each operation to the backend it wraps (checked there again): it must match and
// reject exactly as that backend does. The wrapped backend lives as long as the test program.
struct ProfiledCpuFp32 {
  static std::unique_ptr<Backend> make() {
    static CpuBackend<float> inner(0);
    return std::make_unique<ProfilingBackend>(inner);
  }
  static constexpr Layout layout = Layout::nchw;
  static constexpr double tol = CpuFp32::tol;
  static constexpr double statistics_tol = CpuFp32::statistics_tol, grad_mode_tol = CpuFp32::grad_mode_tol,
                          sgd_tol = CpuFp32::sgd_tol;
};

using CpuBackends = ::testing::Types<ReferenceNhwc, CpuFp32, CpuFp64, ProfiledCpuFp32>;

// Test names show the factory: Cpu/BackendOps/CpuFp32.Convolution rather than .../1.Convolution.
struct FactoryName {
  template <typename T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, ReferenceNhwc>) return "ReferenceNhwc";
    if constexpr (std::is_same_v<T, CpuFp32>) return "CpuFp32";
    if constexpr (std::is_same_v<T, CpuFp64>) return "CpuFp64";
    return "ProfiledCpuFp32";
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Cpu, BackendOps, CpuBackends, FactoryName);

template <typename Factory>
class BackendDefinitions : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = Factory::make();
};
TYPED_TEST_SUITE(BackendDefinitions, CpuBackends, FactoryName);

TYPED_TEST(BackendDefinitions, BatchNormStatisticsMatchDefinition) {
  expect_batchnorm_statistics(*this->backend_, TypeParam::statistics_tol);
}

TYPED_TEST(BackendDefinitions, GradModeAccumulateAddsOverwriteReplaces) {
  expect_grad_modes(*this->backend_, TypeParam::grad_mode_tol);
}

TYPED_TEST(BackendDefinitions, SgdUpdateMatchesClosedForm) {
  expect_sgd_closed_form(*this->backend_, TypeParam::sgd_tol);
}

}  // namespace
}  // namespace cbednet::test
