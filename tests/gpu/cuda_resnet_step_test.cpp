// One whole ResNet-18 training step on the GPU against the same step on the CPU in fp64: the loss and every
// updated parameter agree within the precision's tolerance, with the convolutions on either cuDNN API (legacy by
// default; GraphApi*: --conv-api graph); and ResNet-18 inference with its batch norms folded (CudaFoldedInference)
// against the fp64 CPU forward with them apart. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "core/model/train_step.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"

using namespace cbednet;

namespace {

struct StepResult {
  double loss = 0;
  std::vector<double> params;      // master parameters after the update, f64, NCHW order
  std::vector<std::string> owner;  // the parameter each element belongs to
};

StepResult one_step(Backend& backend, std::uint64_t seed, double loss_scale = 1.0) {
  ResNetSpec spec = resnet_spec("resnet18");
  spec.input_size = 64;
  Model model = build_resnet(spec);
  Stage stage(backend, model, 0, model.size(), seed);
  SoftmaxCrossEntropy loss(spec.classes);
  SgdOptimizer optimizer({0.9, 1e-4, false});
  const std::int64_t batch = 8;
  Tensor images(model.input_shape(batch), DType::f32);
  Tensor labels({batch, 1, 1, 1}, DType::i32);
  const RandomStream s(seed, RngPurpose::test);
  for (std::int64_t i = 0; i < images.count(); ++i) images.data<float>()[i] = static_cast<float>(s.normal(i));
  for (std::int64_t i = 0; i < batch; ++i)
    labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(s.below(230, i, 1));
  const StepStats stats = train_step(stage, loss, optimizer, images, labels, {4, 0.1, 0.1, seed, 0, loss_scale});
  // Parameter by parameter in NCHW order: the flat buffer holds convolution filters in the backend's layout (KRSC
  // on the GPU, KCRS on the CPU), so the two flat buffers are not comparable element by element.
  StepResult result{stats.loss_sum, {}, {}};
  for (const ParamEntry& p : stage.store().params()) {
    const Tensor host = download_f64(backend, p.master);
    result.params.insert(result.params.end(), host.data<double>(), host.data<double>() + host.count());
    result.owner.insert(result.owner.end(), static_cast<std::size_t>(host.count()), p.name);
  }
  return result;
}

void compare(const StepResult& gpu, const StepResult& cpu, double tolerance) {
  EXPECT_NEAR(gpu.loss, cpu.loss, tolerance * std::abs(cpu.loss));
  ASSERT_EQ(gpu.params.size(), cpu.params.size());
  double diff = 0, norm = 0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < cpu.params.size(); ++i) {
    if (std::abs(gpu.params[i] - cpu.params[i]) > diff) {
      diff = std::abs(gpu.params[i] - cpu.params[i]);
      worst = i;
    }
    norm = std::max(norm, std::abs(cpu.params[i]));
  }
  EXPECT_LT(diff / norm, tolerance) << "max |gpu - cpu| = " << diff << " of max |cpu| = " << norm << ", in "
                                    << cpu.owner[worst] << " (gpu " << gpu.params[worst] << ", cpu "
                                    << cpu.params[worst] << ")";
}

}  // namespace

TEST(CudaResNetStep, Fp32MatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  CpuBackend<double> cpu(0);
  auto gpu = make_cuda_backend({"cuda", "fp32", -1, 0});
  compare(one_step(*gpu, 3), one_step(cpu, 3), 1e-4);
}

TEST(CudaResNetStep, Bf16MatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  CpuBackend<double> cpu(0);
  auto gpu = make_cuda_backend({"cuda", "bf16", -1, 0});
  // bf16 keeps 8 significant bits (fp16 11): one rounding is 2^-9 relative, and 20 layers of forward and backward
  // compound it. Measured on an H100 (bench/results/gpu-h100/): 0.054, in a small batch-norm parameter; a wrong
  // layout or a missing term gives over 0.3.
  compare(one_step(*gpu, 3), one_step(cpu, 3), 8e-2);
}

// fp16 with the loss scaled by 2^12 (core/optim/loss_scaler.hpp; without it the small gradients of a 230-class
// head underflow in fp16) against the unscaled fp64 CPU step: the update divides the scale out again.
TEST(CudaResNetStep, Fp16WithLossScalingMatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  CpuBackend<double> cpu(0);
  auto gpu = make_cuda_backend({"cuda", "fp16", -1, 0});
  compare(one_step(*gpu, 3, 4096.0), one_step(cpu, 3), 3e-2);
}

// TF32 convolutions and GEMMs (10-bit mantissa inputs, fp32 accumulation).
TEST(CudaResNetStep, Tf32MatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  CpuBackend<double> cpu(0);
  auto gpu = make_cuda_backend({"cuda", "tf32", -1, 0});
  compare(one_step(*gpu, 3), one_step(cpu, 3), 1e-2);
}

// The same steps with the convolutions on cuDNN's graph API (--conv-api graph, kernels/cuda/conv_graph.cpp), at
// the legacy API's tolerances: the graph path must be as exact as the legacy one.
TEST(CudaResNetStep, GraphApiFp32MatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  CpuBackend<double> cpu(0);
  BackendOptions options{"cuda", "fp32", -1, 0};
  options.conv_api = "graph";
  auto gpu = make_cuda_backend(options);
  compare(one_step(*gpu, 3), one_step(cpu, 3), 1e-4);
}

TEST(CudaResNetStep, GraphApiBf16MatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  CpuBackend<double> cpu(0);
  BackendOptions options{"cuda", "bf16", -1, 0};
  options.conv_api = "graph";
  auto gpu = make_cuda_backend(options);
  compare(one_step(*gpu, 3), one_step(cpu, 3), 8e-2);
}

// ---- inference with the batch norms folded into the convolutions (core/model/folded_conv.hpp) ----------------------

namespace {

// ResNet-18 after one fp64 CPU training step (so gamma, beta and the running statistics have moved), its state
// copied onto `gpu`: the largest difference between the GPU's logits with every batch norm folded and the CPU's
// fp64 logits with them apart, relative to the largest CPU logit.
double folded_inference_difference(Backend& gpu) {
  ResNetSpec spec = resnet_spec("resnet18");
  spec.input_size = 64;
  Model cpu_model = build_resnet(spec), gpu_model = build_resnet(spec);
  CpuBackend<double> cpu(0);
  Stage cpu_stage(cpu, cpu_model, 0, cpu_model.size(), 3);
  SoftmaxCrossEntropy loss(spec.classes);
  SgdOptimizer optimizer({0.9, 1e-4, false});
  const std::int64_t batch = 8;
  Tensor images(cpu_model.input_shape(batch), DType::f32);
  Tensor labels({batch, 1, 1, 1}, DType::i32);
  const RandomStream s(3, RngPurpose::test);
  for (std::int64_t i = 0; i < images.count(); ++i) images.data<float>()[i] = static_cast<float>(s.normal(i));
  for (std::int64_t i = 0; i < batch; ++i)
    labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(s.below(230, i, 1));
  train_step(cpu_stage, loss, optimizer, images, labels, {4, 0.1, 0.5, 3, 0, 1.0});

  Stage gpu_stage(gpu, gpu_model, 0, gpu_model.size(), 3);
  assign_tensors(gpu_stage.store(), collect_tensors(cpu_stage.store()), "the CPU step");
  const Tensor expected = predict_logits(cpu_stage, images, batch);
  EXPECT_EQ(gpu_stage.fold_batch_norms(), 20) << "ResNet-18: the stem, 16 in the blocks, 3 shortcuts";
  const Tensor got = predict_logits(gpu_stage, images, batch);
  double diff = 0, norm = 0;
  for (std::int64_t i = 0; i < expected.count(); ++i) {
    diff = std::max(diff, std::abs(got.data<double>()[i] - expected.data<double>()[i]));
    norm = std::max(norm, std::abs(expected.data<double>()[i]));
  }
  return diff / norm;
}

std::unique_ptr<Backend> cuda_backend(const char* precision, const char* conv_api) {
  BackendOptions options{"cuda", precision, -1, 0};
  options.conv_api = conv_api;
  return make_cuda_backend(options);
}

}  // namespace

// Tolerances: the training step's for fp32 (1e-4, over one forward instead of a whole step) and for bf16 (8e-2).
TEST(CudaFoldedInference, Fp32LegacyMatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LT(folded_inference_difference(*cuda_backend("fp32", "legacy")), 1e-4);
}

TEST(CudaFoldedInference, Fp32GraphMatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LT(folded_inference_difference(*cuda_backend("fp32", "graph")), 1e-4);
}

TEST(CudaFoldedInference, Bf16LegacyMatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LT(folded_inference_difference(*cuda_backend("bf16", "legacy")), 8e-2);
}

TEST(CudaFoldedInference, Bf16GraphMatchesCpuFp64) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LT(folded_inference_difference(*cuda_backend("bf16", "graph")), 8e-2);
}
