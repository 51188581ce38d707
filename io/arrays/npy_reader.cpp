// NumPy .npy stacks through xtensor's reader (Debian xtensor-dev): the whole array is loaded at open, so an .npy
// is meant for what fits in memory (a session at the microscope); convert larger sets to HDF5.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "core/error.hpp"
#include "io/arrays/array_reader.hpp"

namespace cbednet::io {

namespace {

// xtensor allocates what the header announces before reading, and does not check that the data were all there: the
// header's shape times the element size must be what the file holds after the header, before xtensor sees it.
void check_npy_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::string(magic, 6) != "\x93NUMPY")
    throw_error<IoError>("file ", path, ": not a .npy file (no NUMPY magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  unsigned char length_bytes[4] = {};
  in.read(reinterpret_cast<char*>(length_bytes), major == 1 ? 2 : 4);
  std::size_t header_length = length_bytes[0] | (std::size_t{length_bytes[1]} << 8);
  if (major != 1) header_length |= (std::size_t{length_bytes[2]} << 16) | (std::size_t{length_bytes[3]} << 24);
  if (!in || header_length > 65536) throw_error<IoError>("file ", path, ": not a readable .npy header");
  std::string header(header_length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_length));
  const auto descr = header.find("'descr'"), shape = header.find("'shape'");
  if (!in || descr == std::string::npos || shape == std::string::npos)
    throw_error<IoError>("file ", path, ": not a readable .npy header");
  const auto open = header.find('(', shape), close = header.find(')', shape);
  const auto type = header.find('\'', header.find(':', descr));
  if (open == std::string::npos || close == std::string::npos || close < open || type == std::string::npos ||
      type + 4 >= header.size())
    throw_error<IoError>("file ", path, ": not a readable .npy header");
  std::size_t elements = 1;
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  for (std::string dim; std::getline(dims, dim, ',');) {
    if (dim.find_first_not_of(" ") == std::string::npos) continue;
    std::size_t used = 0;
    unsigned long long value = 0;
    try {
      value = std::stoull(dim, &used);
    } catch (const std::exception&) {
      throw_error<IoError>("file ", path, ": shape entry '", dim, "' is not a number");
    }
    if (value != 0 && elements > (std::size_t{1} << 40) / value)
      throw_error<IoError>("file ", path, ": shape too large");
    elements *= value;
  }
  const std::size_t word = static_cast<std::size_t>(std::atoi(header.c_str() + type + 3));
  const auto data_start = static_cast<std::size_t>(in.tellg());
  std::error_code ec;
  const auto file_size = static_cast<std::size_t>(std::filesystem::file_size(path, ec));
  if (word == 0 || word > 16 || ec || file_size < data_start || (file_size - data_start) / word != elements ||
      (file_size - data_start) % word != 0)
    throw_error<IoError>("file ", path, ": holds ", file_size - std::min(file_size, data_start),
                         " bytes of data, its header announces ", elements, " elements of ", word,
                         " bytes (truncated?)");
}

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
  } catch (const IoError&) {
    throw;
  } catch (const std::exception& e) {  // xtensor's runtime_error, or a standard parse error inside it
    const std::string what = e.what();
    if (what.find("formats not matching") != std::string::npos) return false;
    throw_error<IoError>("file ", path, ": not a readable .npy file (", what, ")");
  }
}

class NpyReader final : public ArrayReader {
 public:
  explicit NpyReader(std::string path) : path_(std::move(path)) {
    check_npy_size(path_);
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
