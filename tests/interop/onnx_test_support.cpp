#include "tests/interop/onnx_test_support.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include "core/model/param_store.hpp"

namespace cbednet::test {

namespace fs = std::filesystem;

ScratchDir::ScratchDir() {
  std::string pattern = (fs::temp_directory_path() / "cbednet-onnx-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {
std::string python_command() { return std::string("PYTHONPATH=") + CBEDNET_PYTHON_DIR + " /usr/bin/python3 "; }
}  // namespace

bool onnx_python_available() {
  static const bool available =
      std::system((python_command() + "-c 'import onnx, onnxruntime' >/dev/null 2>&1").c_str()) == 0;
  return available;
}

int run_onnx_check(const std::string& args) {
  const int status = std::system((python_command() + CBEDNET_ONNX_CHECK + " " + args).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void write_floats(const std::string& path, const std::vector<float>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
}

void write_doubles(const std::string& path, const double* values, std::size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(n * sizeof(double)));
}

template <typename T>
std::vector<T> read_values(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const auto bytes = static_cast<std::size_t>(in.tellg());
  std::vector<T> out(bytes / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(bytes));
  return out;
}
std::vector<float> read_floats(const std::string& path) { return read_values<float>(path); }
std::vector<double> read_doubles(const std::string& path) { return read_values<double>(path); }

ResNetSpec test_spec(const std::string& arch, std::int64_t width, std::int64_t classes, StemKind stem,
                     std::int64_t size) {
  ResNetSpec spec = resnet_spec(arch);
  spec.base_width = width;
  spec.classes = classes;
  spec.stem = stem;
  spec.input_size = size;
  spec.in_channels = 3;
  return spec;
}

void randomise_batchnorm(Stage& stage, std::uint64_t seed) {
  ModelTensors t = collect_tensors(stage.store());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> around_one(0.5F, 1.5F), small(-0.2F, 0.2F);
  const auto fill = [&](Tensor& x, auto& dist) {
    for (float& v : x.span<float>()) v = dist(rng);
  };
  for (auto& [name, x] : t.parameters) {
    if (name.ends_with(".gamma")) fill(x, around_one);
    if (name.ends_with(".beta")) fill(x, small);
  }
  for (auto& [name, x] : t.buffers) {
    if (name.ends_with(".running_mean")) fill(x, small);
    if (name.ends_with(".running_var")) fill(x, around_one);
  }
  assign_tensors(stage.store(), t, "randomise_batchnorm");
}

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 1e-30;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / scale;
}

}  // namespace cbednet::test
