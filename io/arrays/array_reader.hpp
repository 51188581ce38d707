// One file of stacks in some array format, behind one interface so that ArraySource (array_source.cpp) treats
// NumPy, TIFF and HDF5 arrays alike. Implementations: npy_reader.cpp, tiff_reader.cpp, h5_array_reader.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace cbednet::io {

class ArrayReader {
 public:
  virtual ~ArrayReader() = default;
  virtual std::size_t size() const = 0;  // stacks in the file
  virtual int stack_size() const = 0;    // S of every [3, S, S] stack
  // Stack i as float32 [3, S, S] (row-major). IoError naming the file and stack on failure.
  virtual void read(std::size_t i, float* out) const = 0;
  virtual const std::string& path() const = 0;
  // How stack i is named to a person: "" for a file of one stack, else e.g. "[12]" or the HDF5 dataset's path.
  virtual std::string entry(std::size_t i) const = 0;
};

std::unique_ptr<ArrayReader> open_npy(const std::string& path);
std::unique_ptr<ArrayReader> open_tiff(const std::string& path);
std::unique_ptr<ArrayReader> open_h5_array(const std::string& path, const std::string& dataset);

// "[i]". (Built by appending: GCC 12 warns falsely (-Wrestrict) on "[" + std::to_string(i) + "]".)
inline std::string index_label(std::size_t i) {
  std::string text(1, '[');
  text.append(std::to_string(i)).push_back(']');
  return text;
}

// [N, 3, S, S] or [3, S, S] -> (N, S); IoError(ctx ...) for any other shape.
std::pair<std::size_t, int> stacks_of_shape(const std::size_t* dims, int rank, const std::string& ctx);

}  // namespace cbednet::io
