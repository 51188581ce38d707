// NumPy .npy stacks through xtensor's reader (Debian xtensor-dev): the whole array is loaded at open, so an .npy
// is meant for what fits in memory (a session at the microscope); convert larger sets to HDF5.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "core/error.hpp"
#include "io/arrays/array_reader.hpp"

namespace cbednet::io {

namespace {

// xtensor reads a given element type only; trying float32 then float64 tells which the file holds.
template <typename T>
bool try_load(const std::string& path, xt::xarray<float, xt::layout_type::row_major>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error<IoError>("file ", path, ": cannot be opened");
  try {
    auto loaded = xt::load_npy<T>(in);
    // xtensor does not check that the data were all there: a short read leaves the stream failed.
    if (in.fail()) throw_error<IoError>("file ", path, ": truncated .npy (fewer bytes than its header announces)");
    out = xt::cast<float>(loaded);
    return true;
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what.find("formats not matching") != std::string::npos) return false;
    throw_error<IoError>("file ", path, ": not a readable .npy file (", what, ")");
  }
}

class NpyReader final : public ArrayReader {
 public:
  explicit NpyReader(std::string path) : path_(std::move(path)) {
    if (!try_load<float>(path_, data_) && !try_load<double>(path_, data_))
      throw_error<IoError>("file ", path_, ": .npy of another element type; expected float32 or float64 (<f4, <f8)");
    std::vector<std::size_t> dims(data_.shape().begin(), data_.shape().end());
    std::tie(n_, size_) = stacks_of_shape(dims.data(), static_cast<int>(dims.size()), "file " + path_);
  }
  std::size_t size() const override { return n_; }
  int stack_size() const override { return size_; }
  void read(std::size_t i, float* out) const override {
    CBEDNET_REQUIRE(i < n_, InvalidArgument, "file ", path_, ": stack ", i, " out of range (", n_, ")");
    const std::size_t per = 3 * static_cast<std::size_t>(size_) * size_;
    std::copy_n(data_.data() + i * per, per, out);
  }
  const std::string& path() const override { return path_; }
  std::string entry(std::size_t i) const override { return n_ == 1 ? std::string() : index_label(i); }

 private:
  std::string path_;
  xt::xarray<float, xt::layout_type::row_major> data_;
  std::size_t n_ = 0;
  int size_ = 0;
};

}  // namespace

std::unique_ptr<ArrayReader> open_npy(const std::string& path) { return std::make_unique<NpyReader>(path); }

}  // namespace cbednet::io
