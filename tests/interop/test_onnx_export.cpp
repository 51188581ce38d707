// cbednet export's ONNX models against CBEDNet's own forward: onnxruntime gives the same logits (relative error
// <= 1e-4) with the preprocessing as operators, for basic and bottleneck models at two input sizes and ResNet-18/50,
// with batch norm kept or folded; onnx's checker accepts every model; export -> import -> export is exact.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/model/model.hpp"
#include "core/model/param_store.hpp"
#include "core/model/train_step.hpp"
#include "core/train/evaluation.hpp"
#include "interop/onnx/onnx_model.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/interop/onnx_test_support.hpp"

namespace cbednet::test {
namespace {

struct ExportCase {
  std::string arch;
  std::int64_t width, classes;
  StemKind stem;
  std::int64_t size;  // the network's input
  io::Preprocess preprocess;
  double width_multiplier = 1.0;
};

void PrintTo(const ExportCase& c, std::ostream* out) {
  *out << c.arch << " width " << c.width << ", " << c.classes << " classes, input " << c.size << ", "
       << c.preprocess.describe();
}

io::Preprocess preprocessing(bool log_scale, int downsample, bool normalise = false, bool separate_views = false) {
  io::Preprocess p;
  p.separate_views = separate_views;
  p.log_scale = log_scale;
  p.downsample = downsample;
  if (normalise) {
    p.mean = {40.0F, 50.0F, 60.0F};
    p.stddev = {30.0F, 25.0F, 20.0F};
    if (separate_views) {
      p.mean.resize(1);
      p.stddev.resize(1);
    }
  }
  return p;
}

// Raw CBED-like intensities [n, 3, S, S]: zeros (outside the aperture), a few negatives (noise), and values
// spread over ~1e-9..1e4 (log-uniform).
std::vector<float> raw_intensities(std::int64_t n, std::int64_t S, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> x(static_cast<std::size_t>(n * 3 * S * S));
  for (auto& v : x) {
    const double r = u(rng);
    v = r < 0.3 ? 0.0F : r < 0.33 ? -static_cast<float>(u(rng)) : static_cast<float>(std::exp(-20.0 + 30.0 * u(rng)));
  }
  return x;
}

struct Reference {
  std::vector<float> raw;
  std::vector<double> logits;
  std::int64_t raw_size = 0;
};

// CBEDNet's own path: io's preprocessing of each stack, then the evaluation forward. With separate views
// (--views random) each projection is a sample and a sample's probabilities are the mean of its three softmaxes
// (core/train/evaluation), whose logarithm the export gives as logits.
Reference reference_logits(Stage& stage, const ExportCase& c, std::int64_t n) {
  Reference r;
  r.raw_size = c.size * c.preprocess.downsample;
  r.raw = raw_intensities(n, r.raw_size, 11);
  const std::int64_t views = c.preprocess.separate_views ? 3 : 1, channels = 3 / views;
  Tensor images(Shape{n * views, channels, c.size, c.size}, DType::f32);
  const std::size_t raw_per = 3 * r.raw_size * r.raw_size, per = channels * c.size * c.size;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t v = 0; v < views; ++v)
      io::preprocess_stack(c.preprocess, r.raw.data() + i * raw_per, static_cast<int>(r.raw_size), static_cast<int>(v),
                           images.data<float>() + (i * views + v) * per);
  Tensor logits = predict_logits(stage, images);
  if (views == 1) {
    r.logits.assign(logits.data<double>(), logits.data<double>() + logits.count());
    return r;
  }
  softmax_rows(logits);
  const std::int64_t K = logits.shape().c;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < K; ++k) {
      double mean = 0;
      for (std::int64_t v = 0; v < views; ++v) mean += logits.data<double>()[(i * views + v) * K + k] / views;
      r.logits.push_back(std::log(mean));
    }
  return r;
}

class OnnxExport : public ::testing::TestWithParam<ExportCase> {};

TEST_P(OnnxExport, OnnxruntimeGivesCbednetsLogits) {
  if (!onnx_python_available()) GTEST_SKIP() << "onnx/onnxruntime not importable from " << CBEDNET_PYTHON_DIR;
  const ExportCase& c = GetParam();
  CpuBackend<float> backend(0);
  ResNetSpec spec = test_spec(c.arch, c.width, c.classes, c.stem, c.size);
  spec.in_channels = c.preprocess.channels();
  Model model = build_resnet(spec);
  Stage stage(backend, model, 0, model.size(), 3);
  randomise_batchnorm(stage, 5);
  const std::int64_t n = 3;
  const Reference ref = reference_logits(stage, c, n);
  ScratchDir dir;
  write_floats(dir / "input.bin", ref.raw);
  write_doubles(dir / "logits.bin", ref.logits.data(), ref.logits.size());
  const ModelTensors tensors = collect_tensors(stage.store());
  for (const bool fold : {false, true}) {
    SCOPED_TRACE(fold ? "batch norm folded" : "batch norm kept");
    interop::export_onnx(dir / "model.onnx", model.spec(), tensors, c.preprocess, {"[run]\nseed = 3\n", "test"},
                         {fold});
    std::ostringstream args;
    args << "compare " << (dir / "model.onnx") << " " << (dir / "input.bin") << " " << n << ",3," << ref.raw_size << ","
         << ref.raw_size << " " << (dir / "logits.bin") << " 1e-4";
    EXPECT_EQ(run_onnx_check(args.str()), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, OnnxExport,
    ::testing::Values(ExportCase{"basic:1,1", 8, 5, StemKind::small, 12, preprocessing(true, 2)},
                      ExportCase{"basic:1,1", 8, 5, StemKind::small, 20, preprocessing(true, 1, true)},
                      ExportCase{"bottleneck:1,1", 8, 7, StemKind::imagenet, 32, preprocessing(true, 2)},
                      ExportCase{"bottleneck:1,1", 8, 7, StemKind::imagenet, 48, preprocessing(false, 1)},
                      ExportCase{"basic:1,1", 8, 5, StemKind::small, 16, preprocessing(true, 2, true, true)},
                      ExportCase{"resnet18", 64, 230, StemKind::imagenet, 64, preprocessing(true, 1)},
                      ExportCase{"resnet50", 64, 230, StemKind::imagenet, 64, preprocessing(true, 2)}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool same_tensors(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    if (it == b.end() || it->second.shape() != t.shape() || it->second.dtype() != t.dtype() ||
        std::memcmp(it->second.raw(), t.raw(), t.bytes()) != 0) {
      ADD_FAILURE() << "tensor " << name << " differs";
      return false;
    }
  }
  return true;
}

TEST(OnnxRoundTrip, ExportImportExportKeepsEveryParameterExactly) {
  for (const auto& c : {ExportCase{"basic:2,1,1", 8, 5, StemKind::small, 16, preprocessing(true, 2)},
                        ExportCase{"bottleneck:1,2", 4, 9, StemKind::imagenet, 32, preprocessing(false, 1, true)},
                        // widths round(10 * 0.25 * 2^i) = 3, 5, 10: not a stem width times powers of two
                        ExportCase{"basic:1,1,1", 10, 5, StemKind::small, 16, preprocessing(true, 1), 0.25},
                        ExportCase{"basic:1,1", 8, 5, StemKind::small, 8, preprocessing(true, 2, true, true)}}) {
    SCOPED_TRACE(c.arch);
    CpuBackend<float> backend(0);
    ResNetSpec spec = test_spec(c.arch, c.width, c.classes, c.stem, c.size);
    spec.width_multiplier = c.width_multiplier;
    spec.in_channels = c.preprocess.channels();
    Model model = build_resnet(spec);
    Stage stage(backend, model, 0, model.size(), 3);
    randomise_batchnorm(stage, 9);
    const ModelTensors tensors = collect_tensors(stage.store());
    ScratchDir dir;
    const interop::OnnxExportInfo info{"[run]\narch = " + c.arch + "\n", "ckpt.h5"};
    interop::export_onnx(dir / "a.onnx", model.spec(), tensors, c.preprocess, info, {false});
    const interop::ImportedOnnx imported = interop::import_onnx(dir / "a.onnx");
    EXPECT_EQ(imported.spec.arch, c.arch);
    EXPECT_EQ(imported.spec.block, model.spec().block);
    EXPECT_EQ(imported.spec.base_width, c.width);
    EXPECT_EQ(imported.spec.width_multiplier, c.width_multiplier);
    EXPECT_EQ(imported.spec.stage_blocks, model.spec().stage_blocks);
    EXPECT_EQ(imported.spec.stem, c.stem);
    EXPECT_EQ(imported.spec.classes, c.classes);
    EXPECT_EQ(imported.spec.input_size, c.size);
    EXPECT_EQ(imported.preprocess.describe(), c.preprocess.describe());
    EXPECT_EQ(imported.config, info.config);
    EXPECT_TRUE(same_tensors(imported.tensors.parameters, tensors.parameters));
    EXPECT_TRUE(same_tensors(imported.tensors.buffers, tensors.buffers));
    interop::export_onnx(dir / "b.onnx", imported.spec, imported.tensors, imported.preprocess, info, {false});
    EXPECT_EQ(file_bytes(dir / "a.onnx"), file_bytes(dir / "b.onnx"));

    // Folded batch norm comes back as batch norms that give the same logits.
    interop::export_onnx(dir / "folded.onnx", model.spec(), tensors, c.preprocess, info, {true});
    const interop::ImportedOnnx unfolded = interop::import_onnx(dir / "folded.onnx");
    Model copy = build_resnet(unfolded.spec);
    Stage copy_stage(backend, copy, 0, copy.size(), 0);
    assign_tensors(copy_stage.store(), unfolded.tensors, "folded.onnx");
    Tensor images(model.input_shape(4), DType::f32);
    std::mt19937 rng(2);
    std::normal_distribution<float> normal;
    for (float& v : images.span<float>()) v = normal(rng);
    const Tensor expected = predict_logits(stage, images), got = predict_logits(copy_stage, images);
    EXPECT_LE(relative_error({got.data<double>(), got.data<double>() + got.count()},
                             {expected.data<double>(), expected.data<double>() + expected.count()}),
              1e-5);
  }
}

}  // namespace
}  // namespace cbednet::test
