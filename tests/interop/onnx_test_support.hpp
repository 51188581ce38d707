// Helpers of the ONNX tests: a scratch folder, binary files, the Python side (onnx_check.py under /usr/bin/python3
// with CBEDNET_PYTHON_DIR on PYTHONPATH), models with non-trivial batch-norm statistics.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/model/resnet.hpp"
#include "core/model/stage.hpp"

namespace cbednet::test {

class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Whether onnx and onnxruntime import under /usr/bin/python3 (checked once).
bool onnx_python_available();
// Runs onnx_check.py with `args`; returns its exit status.
int run_onnx_check(const std::string& args);

void write_floats(const std::string& path, const std::vector<float>& values);
void write_doubles(const std::string& path, const double* values, std::size_t n);
std::vector<float> read_floats(const std::string& path);
std::vector<double> read_doubles(const std::string& path);

// A spec of `arch` (resnet_spec's names) with the given width, classes, stem and input size.
ResNetSpec test_spec(const std::string& arch, std::int64_t width, std::int64_t classes, StemKind stem,
                     std::int64_t size);
// Random gamma, beta and running statistics in every batch norm (initialisation leaves them trivial).
void randomise_batchnorm(Stage& stage, std::uint64_t seed);
// max |a - b| / max |b|
double relative_error(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace cbednet::test
