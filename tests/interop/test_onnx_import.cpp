// cbednet import of ResNets in the form torch.onnx.export gives torchvision's resnets, built by onnx_check.py with
// onnx's helper API: the imported CBEDNet model gives onnxruntime's logits (batch norm kept or folded, GAP or
// ReduceMean, Flatten or Reshape). Bad files are one InvalidArgument naming the file and the node.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/model/model.hpp"
#include "core/model/param_store.hpp"
#include "core/model/train_step.hpp"
#include "interop/onnx/onnx_model.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "tests/interop/onnx_test_support.hpp"

namespace cbednet::test {
namespace {

struct ImportCase {
  std::string options;  // onnx_check.py torchvision options
  std::string arch;     // expected
  std::int64_t size;
};

void PrintTo(const ImportCase& c, std::ostream* out) { *out << c.options; }

class OnnxImport : public ::testing::TestWithParam<ImportCase> {};

TEST_P(OnnxImport, ImportedModelGivesOnnxruntimesLogits) {
  if (!onnx_python_available()) GTEST_SKIP() << "onnx/onnxruntime not importable from " << CBEDNET_PYTHON_DIR;
  const ImportCase& c = GetParam();
  ScratchDir dir;
  ASSERT_EQ(run_onnx_check("torchvision " + (dir / "tv.onnx") + " " + (dir / "input.bin") + " " + (dir / "logits.bin") +
                           " " + c.options),
            0);
  const interop::ImportedOnnx imported = interop::import_onnx(dir / "tv.onnx");
  EXPECT_EQ(imported.spec.arch, c.arch);
  EXPECT_EQ(imported.spec.input_size, c.size);
  CpuBackend<float> backend(0);
  Model model = build_resnet(imported.spec);
  Stage stage(backend, model, 0, model.size(), 0);
  assign_tensors(stage.store(), imported.tensors, "tv.onnx");
  const std::vector<float> input = read_floats(dir / "input.bin");
  const std::vector<double> expected = read_doubles(dir / "logits.bin");
  Tensor images(model.input_shape(3), DType::f32);
  ASSERT_EQ(static_cast<std::int64_t>(input.size()), images.count());
  std::copy(input.begin(), input.end(), images.data<float>());
  const Tensor logits = predict_logits(stage, images);
  const double err = relative_error({logits.data<double>(), logits.data<double>() + logits.count()}, expected);
  EXPECT_LE(err, 1e-4) << c.options;
}

INSTANTIATE_TEST_SUITE_P(
    TorchvisionForm, OnnxImport,
    ::testing::Values(ImportCase{"--block basic --counts 2,2,2,2 --width 8 --size 32", "resnet18", 32},
                      ImportCase{"--block basic --counts 2,2,2,2 --width 8 --size 32 --fold --head reducemean "
                                 "--flatten reshape",
                                 "resnet18", 32},
                      ImportCase{"--block bottleneck --counts 1,1,1,1 --width 8 --size 32 --fold", "bottleneck:1,1,1,1",
                                 32},
                      ImportCase{"--block bottleneck --counts 2,1 --width 4 --size 16 --stem small --classes 3",
                                 "bottleneck:2,1", 16}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

// The message of import_onnx(path), or "" when it does not throw InvalidArgument.
std::string import_error(const std::string& path) {
  try {
    interop::import_onnx(path);
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(OnnxImportErrors, BadFilesNameTheFileAndNode) {
  ScratchDir dir;
  EXPECT_NE(import_error(dir / "missing.onnx").find("missing.onnx"), std::string::npos);
  { std::ofstream(dir / "text.onnx") << "this is not an ONNX model, just some text\n"; }
  EXPECT_NE(import_error(dir / "text.onnx").find("not an ONNX model"), std::string::npos)
      << import_error(dir / "text.onnx");
  if (!onnx_python_available()) GTEST_SKIP() << "onnx/onnxruntime not importable from " << CBEDNET_PYTHON_DIR;
  ASSERT_EQ(run_onnx_check("torchvision " + (dir / "tv.onnx") + " " + (dir / "in.bin") + " " + (dir / "out.bin") +
                           " --block basic --counts 1,1 --width 4 --size 16"),
            0);
  {  // truncated: the first half of the file
    std::ifstream in(dir / "tv.onnx", std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    const std::string all = bytes.str();
    std::ofstream(dir / "truncated.onnx", std::ios::binary) << all.substr(0, all.size() / 2);
  }
  const std::string truncated = import_error(dir / "truncated.onnx");
  EXPECT_NE(truncated.find("truncated.onnx"), std::string::npos) << truncated;
  EXPECT_NE(truncated.find("not an ONNX model"), std::string::npos) << truncated;
  const std::vector<std::pair<std::string, std::vector<std::string>>> broken{
      {"old-opset", {"opset 9", "older"}},
      {"unsupported-op", {"the_sigmoid", "Sigmoid"}},
      {"missing-initializer", {"missing initializer", "Conv"}},
      {"shape-mismatch", {"/fc/Gemm", "features"}},
  };
  for (const auto& [kind, words] : broken) {
    ASSERT_EQ(run_onnx_check("bad " + kind + " " + (dir / "tv.onnx") + " " + (dir / kind) + ".onnx"), 0);
    const std::string message = import_error(dir / kind + ".onnx");
    EXPECT_NE(message.find(kind + ".onnx"), std::string::npos) << kind << ": " << message;
    for (const auto& w : words) EXPECT_NE(message.find(w), std::string::npos) << kind << ": " << message;
  }
}

}  // namespace
}  // namespace cbednet::test
