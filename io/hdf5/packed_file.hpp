// The packed layout (docs/data-format.md): one HDF5 file holding every sample of a data set, preprocessed.
//   images        [N, C, H, W] float32 or float16, chunked [1, C, H, W], no filters (collective MPI-IO works)
//   labels        [N] int16, space group 1..230
//   material_ids  [N] int32, index into `materials`
//   materials     [M] variable-length UTF-8 strings
//   split         [N] int8: 0 train, 1 dev, 2 test, -1 unknown
//   root attributes: cbednet_format = "cbednet-packed-1", source, preprocessing (Preprocess::describe()),
//                    creator, dtype ("float32" | "float16"), original_size (int64 S of the SMC stacks)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "io/hdf5/h5_handle.hpp"
#include "io/hdf5/sample_source.hpp"

namespace cbednet::io {

inline constexpr const char* kPackedFormat = "cbednet-packed-1";

enum class PackedDType { f32, f16 };
// "float32" | "float16"; anything else throws naming `what` (the option, or the file and attribute it came from).
PackedDType parse_packed_dtype(const std::string& name, const std::string& what = "--dtype");
const char* to_string(PackedDType dtype);

// Writes to "<path>.tmp-<pid>"; commit() writes the label/material/split datasets and renames into place.
// Destroyed without commit(), the temp file is removed: a failed conversion leaves nothing behind.
class PackedFileWriter {
 public:
  PackedFileWriter(std::string path, std::size_t n, Shape sample_shape, PackedDType dtype);
  ~PackedFileWriter();
  PackedFileWriter(const PackedFileWriter&) = delete;
  PackedFileWriter& operator=(const PackedFileWriter&) = delete;

  void write(std::size_t i, const float* chw, int label, std::int32_t material_id, Split split);
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, std::int64_t value);
  void commit(const std::vector<std::string>& materials);

 private:
  void create_file();  // the constructor's HDF5 part (its caller cleans up when it throws)
  std::string path_, temp_path_;
  std::size_t n_;
  Shape shape_;
  PackedDType dtype_;
  h5::Handle file_, images_;
  std::vector<std::int16_t> labels_;
  std::vector<std::int32_t> material_ids_;
  std::vector<std::int8_t> split_;
  std::vector<bool> written_;
  std::vector<std::uint16_t> half_;
  bool committed_ = false;
};

// Everything in a packed file except the images (small: read whole by every rank).
struct PackedInfo {
  std::string path;
  std::size_t n = 0;
  Shape sample{};  // {1, C, H, W}
  PackedDType dtype = PackedDType::f32;
  std::vector<std::int16_t> labels;
  std::vector<std::int32_t> material_ids;
  std::vector<std::string> materials;
  std::vector<std::int8_t> split;
  std::string source, preprocessing, creator;
};

bool is_packed_file(const std::string& path);
// Reads the metadata of an open packed file; IoError naming the file when a dataset is missing or inconsistent.
PackedInfo read_packed_info(hid_t file, const std::string& path);
// Type of the images in memory as passed to H5Dread/H5Dwrite: the file's own type, so HDF5 converts nothing
// (a conversion silently turns collective MPI-IO into independent I/O).
h5::Handle packed_memory_type(PackedDType dtype, const std::string& ctx);
// Writes sample i (float32 [C,H,W], converted to half bits in `half` for float16) into row i of `images`; takes the
// HDF5 library lock.
void write_packed_row(hid_t images, PackedDType dtype, const Shape& shape, std::size_t i, const float* chw,
                      std::vector<std::uint16_t>& half, const std::string& ctx);
// The images' type in the file: IEEE float32 little-endian, or IEEE binary16.
h5::Handle packed_file_type(PackedDType dtype, const std::string& ctx);
// Writes the datasets labels, material_ids, split and materials into an open packed file (caller holds the lock).
void write_packed_metadata(hid_t file, const std::vector<std::int16_t>& labels,
                           const std::vector<std::int32_t>& material_ids, const std::vector<std::int8_t>& split,
                           const std::vector<std::string>& materials, const std::string& ctx);

// Reads samples `indices` (any order) of dataset `images` into out[k*C*H*W] as float32, with the transfer
// property list `xfer` (collective or not), one H5Dread per sample. A collective caller passes `calls`, the
// largest k of any rank this step: a rank with fewer samples joins the remaining calls with empty selections.
void read_packed_images(hid_t images, const PackedInfo& info, const std::vector<std::int64_t>& indices, float* out,
                        hid_t xfer, std::vector<std::uint16_t>& scratch, std::size_t calls);

std::unique_ptr<SampleSource> open_packed_source(const std::string& path, const SourceOptions& options);

}  // namespace cbednet::io
