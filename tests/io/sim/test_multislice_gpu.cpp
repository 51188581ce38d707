// The CUDA multislice engine against the CPU engine on the same slice stack: patterns agree to single-precision
// rounding (CUDA builds; skipped without a device).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "core/rng.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/multislice/multislice.hpp"
#include "io/sim/projections.hpp"

namespace cbednet::io::sim::multislice {
namespace {

bool have_device() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

TEST(SimMultisliceGpu, CudaEngineMatchesCpuEngine) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  // GaAs (F-43m, Hall 512) along [110], 200 A, frozen phonons: the engines see the same slices and draws.
  Crystal gaas = make_crystal({5.653, 5.653, 5.653, 90, 90, 90}, 512,
                              {Atom{31, {0, 0, 0}, 0.5, 0}, Atom{33, {0.25, 0.25, 0.25}, 0.5, 1}});
  Projection proj = projection_frame(mat_vec(gaas.basis, {1, 1, 0}));
  proj.d = 2.0;
  const GridGeometry grid{128, 128, 10 * 5.653 / std::sqrt(2.0), 7 * 5.653, 2.0 / 3.0};
  MultisliceSettings s;
  s.grid = 128;
  s.thickness = 200;
  s.slice_thickness = 2.0;
  s.probe_grid = 3;
  s.probe_window = 2.0;
  s.phonon_configurations = 2;
  const RandomStream stream(3, RngPurpose::test, 0);
  std::vector<std::unique_ptr<MultisliceEngine>> engines;
  engines.push_back(make_cpu_engine(2));
  engines.push_back(make_cuda_engine(0));
  std::vector<std::vector<float>> out;
  for (const auto& engine : engines) {
    out.emplace_back(128 * 128);
    render_multislice(gaas, proj, grid, s, {200}, 0.0025, PhononSource{&stream, 0}, *engine, {out.back().data()});
  }
  double diff = 0, total = 0;
  for (std::size_t p = 0; p < out[0].size(); ++p) {
    diff += std::abs(static_cast<double>(out[0][p]) - out[1][p]);
    total += out[0][p];
  }
  EXPECT_GT(total, 0.9 * 128 * 128);
  EXPECT_LT(diff / total, 1e-4) << "relative L1 difference CPU vs CUDA";
}

TEST(SimMultisliceGpu, ReportsItsName) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
  EXPECT_EQ(make_cuda_engine(0)->name(), "cuda-cufft");
}

}  // namespace
}  // namespace cbednet::io::sim::multislice
