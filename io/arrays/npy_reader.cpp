// NumPy .npy stacks, read one stack at a time at its offset (an .npy may be larger than memory).
//
// The header is parsed here, strictly, rather than by xtensor's reader (libxtensor-dev), which CBEDNet used first:
// fuzzing found xtensor reading past the end of a malformed header, and it allocates whatever size a header
// announces before reading. The format is small and documented (numpy.lib.format): a magic, a version, a header
// length and a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, 3, S, S), }.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/arrays/array_reader.hpp"

namespace cbednet::io {

namespace {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;
};

// The value after 'key': in the dict literal: a tuple "(...)", a quoted string, or a word (True, False).
std::string dict_value(const std::string& dict, const std::string& key, const std::string& path) {
  const auto at = dict.find("'" + key + "'");
  const auto colon = at == std::string::npos ? at : dict.find(':', at + key.size() + 2);
  auto start = colon == std::string::npos ? colon : dict.find_first_not_of(" \t", colon + 1);
  if (start == std::string::npos) throw_error<IoError>("file ", path, ": .npy header has no value for '", key, "'");
  std::size_t end = std::string::npos;
  const char first = dict[start];
  if (first == '(')
    end = dict.find(')', start);
  else if (first == '\'' || first == '"')
    end = dict.find(first, start + 1);
  else
    end = dict.find_first_of(",}", start) - 1;  // npos - 1 when missing: caught below
  if (end == std::string::npos || end >= dict.size() || end < start)
    throw_error<IoError>("file ", path, ": .npy header: unterminated value of '", key, "'");
  std::string value = dict.substr(start, end - start + 1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  return value;
}

NpyHeader read_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error<IoError>("file ", path, ": cannot be opened");
  unsigned char prefix[10] = {};
  in.read(reinterpret_cast<char*>(prefix), 8);
  if (!in || std::memcmp(prefix, "\x93NUMPY", 6) != 0) throw_error<IoError>("file ", path, ": not a .npy file");
  const int major = prefix[6];
  if (major < 1 || major > 3) throw_error<IoError>("file ", path, ": .npy format version ", major, " is not known");
  std::size_t length = 0;
  if (major == 1) {
    in.read(reinterpret_cast<char*>(prefix), 2);
    length = prefix[0] | (std::size_t{prefix[1]} << 8);
  } else {
    in.read(reinterpret_cast<char*>(prefix), 4);
    length =
        prefix[0] | (std::size_t{prefix[1]} << 8) | (std::size_t{prefix[2]} << 16) | (std::size_t{prefix[3]} << 24);
  }
  if (!in || length == 0 || length > 65536) throw_error<IoError>("file ", path, ": .npy header length ", length);
  std::string dict(length, '\0');
  in.read(dict.data(), static_cast<std::streamsize>(length));
  if (!in) throw_error<IoError>("file ", path, ": truncated .npy header");
  if (dict.find('{') == std::string::npos || dict.find('}') == std::string::npos)
    throw_error<IoError>("file ", path, ": .npy header is not a dict");
  NpyHeader h;
  h.data_offset = static_cast<std::size_t>(in.tellg());
  const std::string descr = dict_value(dict, "descr", path);
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"') || descr.back() != descr.front())
    throw_error<IoError>("file ", path, ": .npy 'descr' ", descr, " is not a type string");
  h.descr = descr.substr(1, descr.size() - 2);
  const std::string fortran = dict_value(dict, "fortran_order", path);
  if (fortran != "False" && fortran != "True")
    throw_error<IoError>("file ", path, ": .npy 'fortran_order' is ", fortran, ", not True or False");
  h.fortran_order = fortran == "True";
  const std::string shape = dict_value(dict, "shape", path);
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')')
    throw_error<IoError>("file ", path, ": .npy 'shape' ", shape, " is not a tuple");
  std::size_t pos = 1;
  while (pos < shape.size() - 1) {
    while (pos < shape.size() - 1 && (shape[pos] == ' ' || shape[pos] == ',')) ++pos;
    if (pos >= shape.size() - 1) break;
    std::size_t value = 0, digits = 0;
    while (pos < shape.size() - 1 && shape[pos] >= '0' && shape[pos] <= '9' && digits < 13) {
      value = value * 10 + static_cast<std::size_t>(shape[pos++] - '0');
      ++digits;
    }
    if (digits == 0 || (pos < shape.size() - 1 && shape[pos] != ',' && shape[pos] != ' '))
      throw_error<IoError>("file ", path, ": .npy 'shape' ", shape, " is not a tuple of sizes");
    h.shape.push_back(value);
    if (h.shape.size() > 8) throw_error<IoError>("file ", path, ": .npy 'shape' has too many dimensions");
  }
  return h;
}

class NpyReader final : public ArrayReader {
 public:
  explicit NpyReader(std::string path) : path_(std::move(path)) {
    const NpyHeader h = read_header(path_);
    if (h.descr == "<f4" || h.descr == "|f4")
      word_ = 4;
    else if (h.descr == "<f8" || h.descr == "|f8")
      word_ = 8;
    else
      throw_error<IoError>("file ", path_, ": .npy of another element type ('", h.descr,
                           "'); expected float32 or float64 (little-endian <f4, <f8)");
    if (h.fortran_order)
      throw_error<IoError>("file ", path_, ": a Fortran-ordered .npy; save it C-ordered (numpy.ascontiguousarray)");
    std::tie(n_, size_) = stacks_of_shape(h.shape.data(), static_cast<int>(h.shape.size()), "file " + path_);
    offset_ = h.data_offset;
    const std::size_t per = 3 * static_cast<std::size_t>(size_) * static_cast<std::size_t>(size_);
    std::error_code ec;
    const auto file_size = static_cast<std::size_t>(std::filesystem::file_size(path_, ec));
    // Sizes are bounded (stacks_of_shape, 13 digits): the product cannot overflow before this comparison.
    const long double expected = static_cast<long double>(n_) * static_cast<long double>(per) * word_;
    if (ec || static_cast<long double>(file_size) != static_cast<long double>(offset_) + expected)
      throw_error<IoError>("file ", path_, ": holds ", file_size - std::min(file_size, offset_),
                           " bytes of data, its header announces ", static_cast<double>(expected), " (truncated?)");
  }
  std::size_t size() const override { return n_; }
  int stack_size() const override { return size_; }
  void read(std::size_t i, float* out) const override {
    CBEDNET_REQUIRE(i < n_, InvalidArgument, "file ", path_, ": stack ", i, " out of range (", n_, ")");
    const std::size_t per = 3 * static_cast<std::size_t>(size_) * static_cast<std::size_t>(size_);
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset_ + i * per * word_));
    if (word_ == 4) {
      in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(per * 4));
    } else {
      std::vector<double> wide(per);
      in.read(reinterpret_cast<char*>(wide.data()), static_cast<std::streamsize>(per * 8));
      std::transform(wide.begin(), wide.end(), out, [](double v) { return static_cast<float>(v); });
    }
    if (!in) throw_error<IoError>("file ", path_, ", stack ", i, ": cannot be read");
  }
  const std::string& path() const override { return path_; }
  std::string entry(std::size_t i) const override { return n_ == 1 ? std::string() : index_label(i); }

 private:
  std::string path_;
  std::size_t n_ = 0, offset_ = 0, word_ = 4;
  int size_ = 0;
};

}  // namespace

std::unique_ptr<ArrayReader> open_npy(const std::string& path) { return std::make_unique<NpyReader>(path); }

}  // namespace cbednet::io
