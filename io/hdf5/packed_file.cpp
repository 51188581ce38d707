#include "io/hdf5/packed_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>

#include "io/hdf5/h5_lock.hpp"
#include "io/hdf5/half.hpp"

namespace cbednet::io {

using h5::Kind;

PackedDType parse_packed_dtype(const std::string& name, const std::string& what) {
  if (name == "float32" || name == "f32" || name == "fp32") return PackedDType::f32;
  if (name == "float16" || name == "f16" || name == "fp16") return PackedDType::f16;
  throw_error<InvalidArgument>(what, ": expected float32 or float16, got '", name, "'");
}

const char* to_string(PackedDType dtype) { return dtype == PackedDType::f32 ? "float32" : "float16"; }

namespace {

// IEEE binary16 as HDF5 describes it (the same type h5py writes for numpy float16).
h5::Handle half_type(const std::string& ctx) {
  auto t = h5::checked(H5Tcopy(H5T_IEEE_F32LE), Kind::datatype, ctx, "copying a float type");
  h5::check(H5Tset_fields(t.get(), 15, 10, 5, 0, 10), ctx, "defining float16");
  h5::check(H5Tset_size(t.get(), 2), ctx, "defining float16");
  h5::check(H5Tset_precision(t.get(), 16), ctx, "defining float16");
  h5::check(H5Tset_ebias(t.get(), 15), ctx, "defining float16");
  return t;
}

template <typename T>
void write_vector(hid_t file, const char* name, hid_t file_type, hid_t mem_type, const std::vector<T>& values,
                  const std::string& ctx) {
  const hsize_t dims[1] = {values.size()};
  const auto space = h5::checked(H5Screate_simple(1, dims, nullptr), Kind::dataspace, ctx, "creating a dataspace");
  // No modification time in the object header: converting the same data twice gives the same bytes.
  const auto dcpl = h5::make_plist(H5P_DATASET_CREATE, ctx);
  h5::check(H5Pset_obj_track_times(dcpl.get(), false), ctx, "H5Pset_obj_track_times");
  const auto dset = h5::checked(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                                Kind::dataset, ctx, name);
  if (!values.empty())
    h5::check(H5Dwrite(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), ctx, name);
}

template <typename T>
std::vector<T> read_vector(hid_t file, const char* name, hid_t mem_type, std::size_t expected, const std::string& ctx) {
  const auto dset = h5::open_dataset(file, name, ctx);
  const auto space = h5::checked(H5Dget_space(dset.get()), Kind::dataspace, ctx, name);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (H5Sget_simple_extent_ndims(space.get()) != 1 || n != static_cast<hssize_t>(expected))
    throw_error<IoError>(ctx, ": dataset '", name, "' has ", n, " elements, expected ", expected);
  std::vector<T> values(expected);
  if (expected > 0) h5::check(H5Dread(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), ctx, name);
  return values;
}

}  // namespace

h5::Handle packed_file_type(PackedDType dtype, const std::string& ctx) {
  if (dtype == PackedDType::f16) return half_type(ctx);
  return h5::checked(H5Tcopy(H5T_IEEE_F32LE), Kind::datatype, ctx, "copying a float type");
}

void write_packed_metadata(hid_t file, const std::vector<std::int16_t>& labels,
                           const std::vector<std::int32_t>& material_ids, const std::vector<std::int8_t>& split,
                           const std::vector<std::string>& materials, const std::string& ctx) {
  write_vector(file, "labels", H5T_STD_I16LE, H5T_NATIVE_INT16, labels, ctx);
  write_vector(file, "material_ids", H5T_STD_I32LE, H5T_NATIVE_INT32, material_ids, ctx);
  write_vector(file, "split", H5T_STD_I8LE, H5T_NATIVE_INT8, split, ctx);
  const auto str = h5::checked(H5Tcopy(H5T_C_S1), Kind::datatype, ctx, "copying a string type");
  h5::check(H5Tset_size(str.get(), H5T_VARIABLE), ctx, "string type");
  h5::check(H5Tset_cset(str.get(), H5T_CSET_UTF8), ctx, "string type");
  std::vector<const char*> raw;
  for (const auto& m : materials) raw.push_back(m.c_str());
  write_vector(file, "materials", str.get(), str.get(), raw, ctx);
}

void write_packed_row(hid_t images, PackedDType dtype, const Shape& shape, std::size_t i, const float* chw,
                      std::vector<std::uint16_t>& half, const std::string& ctx) {
  const auto count = static_cast<std::size_t>(shape.per_sample());
  const void* data = chw;
  if (dtype == PackedDType::f16) {
    half.resize(count);
    for (std::size_t j = 0; j < count; ++j) half[j] = float_to_half(chw[j]);
    data = half.data();
  }
  std::lock_guard lock(h5::library_mutex());
  const auto fspace = h5::checked(H5Dget_space(images), Kind::dataspace, ctx, "getting the dataspace");
  const hsize_t start[4] = {i, 0, 0, 0};
  const hsize_t cnt[4] = {1, static_cast<hsize_t>(shape.c), static_cast<hsize_t>(shape.h),
                          static_cast<hsize_t>(shape.w)};
  h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr), ctx, "selecting");
  const auto mspace = h5::checked(H5Screate_simple(4, cnt, nullptr), Kind::dataspace, ctx, "creating a dataspace");
  const auto memtype = packed_memory_type(dtype, ctx);
  h5::check(H5Dwrite(images, memtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, data), ctx, "writing a sample");
}

h5::Handle packed_memory_type(PackedDType dtype, const std::string& ctx) {
  // float16 moves as raw half bits in the file's own type: no HDF5 conversion (which would also treat uint16
  // memory as integers to convert).
  if (dtype == PackedDType::f16) return half_type(ctx);
  return h5::checked(H5Tcopy(H5T_NATIVE_FLOAT), Kind::datatype, ctx, "copying a float type");
}

PackedFileWriter::PackedFileWriter(std::string path, std::size_t n, Shape sample_shape, PackedDType dtype)
    : path_(std::move(path)), n_(n), shape_(sample_shape), dtype_(dtype) {
  CBEDNET_REQUIRE(n > 0, InvalidArgument, "file ", path_, ": a packed file needs at least one sample");
  CBEDNET_REQUIRE(sample_shape.n == 1 && sample_shape.per_sample() > 0, InvalidArgument, "file ", path_,
                  ": bad sample shape ", sample_shape.str());
  h5::silence_hdf5_errors();
  temp_path_ = path_ + ".tmp-" + std::to_string(::getpid());
  try {
    create_file();
  } catch (...) {
    // The destructor does not run for a constructor that throws: close and remove the temporary file here.
    images_.reset();
    file_.reset();
    std::error_code ignored;
    std::filesystem::remove(temp_path_, ignored);
    throw;
  }
}

void PackedFileWriter::create_file() {
  const std::string ctx = h5::where(temp_path_);
  const hsize_t n = static_cast<hsize_t>(n_);
  std::lock_guard lock(h5::library_mutex());
  file_ = h5::checked(H5Fcreate(temp_path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), Kind::file, ctx,
                      "creating the file");
  const hsize_t dims[4] = {n, static_cast<hsize_t>(shape_.c), static_cast<hsize_t>(shape_.h),
                           static_cast<hsize_t>(shape_.w)};
  hsize_t chunk[4] = {1, dims[1], dims[2], dims[3]};
  const auto space = h5::checked(H5Screate_simple(4, dims, nullptr), Kind::dataspace, ctx, "creating a dataspace");
  const auto dcpl = h5::make_plist(H5P_DATASET_CREATE, ctx);
  h5::check(H5Pset_chunk(dcpl.get(), 4, chunk), ctx, "setting the chunk shape");
  // Every chunk is written; early allocation gives MPI-IO readers a complete, fixed chunk index.
  h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), ctx, "setting the allocation time");
  const auto f16 = half_type(ctx);
  const hid_t file_type = dtype_ == PackedDType::f32 ? H5T_IEEE_F32LE : f16.get();
  images_ = h5::checked(H5Dcreate2(file_.get(), "images", file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                        Kind::dataset, ctx, "creating dataset 'images'");
  labels_.assign(n, 0);
  material_ids_.assign(n, -1);
  split_.assign(n, -1);
  written_.assign(n, false);
  set_attribute("cbednet_format", kPackedFormat);
  set_attribute("dtype", to_string(dtype_));
}

PackedFileWriter::~PackedFileWriter() {
  if (committed_) return;
  std::lock_guard lock(h5::library_mutex());
  images_.reset();
  file_.reset();
  std::error_code ignored;
  std::filesystem::remove(temp_path_, ignored);
}

void PackedFileWriter::write(std::size_t i, const float* chw, int label, std::int32_t material_id, Split split) {
  const std::string ctx = h5::where(temp_path_, "/images");
  CBEDNET_REQUIRE(i < n_, InvalidArgument, ctx, ": sample ", i, " out of range (", n_, ")");
  CBEDNET_REQUIRE(label >= 1 && label <= 230, InvalidArgument, ctx, ": sample ", i, ": label ", label,
                  " outside 1..230");
  write_packed_row(images_.get(), dtype_, shape_, i, chw, half_, ctx);
  labels_[i] = static_cast<std::int16_t>(label);
  material_ids_[i] = material_id;
  split_[i] = static_cast<std::int8_t>(split);
  written_[i] = true;
}

void PackedFileWriter::set_attribute(const std::string& name, const std::string& value) {
  std::lock_guard lock(h5::library_mutex());
  h5::write_string_attribute(file_.get(), name, value, h5::where(temp_path_));
}

void PackedFileWriter::set_attribute(const std::string& name, std::int64_t value) {
  std::lock_guard lock(h5::library_mutex());
  h5::write_int_attribute(file_.get(), name, value, h5::where(temp_path_));
}

void PackedFileWriter::commit(const std::vector<std::string>& materials) {
  const std::string ctx = h5::where(temp_path_);
  const auto missing = std::find(written_.begin(), written_.end(), false);
  CBEDNET_REQUIRE(missing == written_.end(), Error, ctx, ": sample ", missing - written_.begin(), " was never written");
  {
    std::lock_guard lock(h5::library_mutex());
    write_packed_metadata(file_.get(), labels_, material_ids_, split_, materials, ctx);
    images_.reset();
    h5::check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), ctx, "flushing");
    if (!file_.reset()) throw_error<IoError>(ctx, ": closing failed");
  }
  std::error_code ec;
  std::filesystem::rename(temp_path_, path_, ec);
  if (ec) throw_error<IoError>("file ", path_, ": cannot rename ", temp_path_, " into place: ", ec.message());
  committed_ = true;
}

bool is_packed_file(const std::string& path) {
  std::lock_guard lock(h5::library_mutex());
  const auto file = h5::open_file_readonly(path);
  const std::string ctx = h5::where(path);
  if (!h5::has_attribute(file.get(), "cbednet_format", ctx)) return false;
  return h5::read_string_attribute(file.get(), "cbednet_format", ctx) == kPackedFormat;
}

PackedInfo read_packed_info(hid_t file, const std::string& path) {
  std::lock_guard lock(h5::library_mutex());
  const std::string ctx = h5::where(path);
  PackedInfo info;
  info.path = path;
  const std::string format = h5::read_string_attribute(file, "cbednet_format", ctx);
  if (format != kPackedFormat) throw_error<IoError>(ctx, ": unknown packed format '", format, "'");
  info.dtype = parse_packed_dtype(h5::read_string_attribute(file, "dtype", ctx), ctx + ": attribute 'dtype'");
  const auto optional = [&](const char* name) {
    return h5::has_attribute(file, name, ctx) ? h5::read_string_attribute(file, name, ctx) : std::string();
  };
  info.source = optional("source");
  info.preprocessing = optional("preprocessing");
  info.creator = optional("creator");
  const auto images = h5::open_dataset(file, "images", ctx);
  const auto space = h5::checked(H5Dget_space(images.get()), Kind::dataspace, ctx, "dataspace of 'images'");
  hsize_t dims[4] = {0, 0, 0, 0};
  if (H5Sget_simple_extent_ndims(space.get()) != 4) throw_error<IoError>(ctx, ": dataset 'images' is not 4-d");
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  info.n = dims[0];
  info.sample = Shape{1, static_cast<std::int64_t>(dims[1]), static_cast<std::int64_t>(dims[2]),
                      static_cast<std::int64_t>(dims[3])};
  const auto type = h5::checked(H5Dget_type(images.get()), Kind::datatype, ctx, "type of 'images'");
  const std::size_t type_size = H5Tget_size(type.get());
  if (H5Tget_class(type.get()) != H5T_FLOAT || type_size != (info.dtype == PackedDType::f32 ? 4U : 2U))
    throw_error<IoError>(ctx, ": dataset 'images' does not hold ", to_string(info.dtype), " as its dtype says");
  info.labels = read_vector<std::int16_t>(file, "labels", H5T_NATIVE_INT16, info.n, ctx);
  info.material_ids = read_vector<std::int32_t>(file, "material_ids", H5T_NATIVE_INT32, info.n, ctx);
  info.split = read_vector<std::int8_t>(file, "split", H5T_NATIVE_INT8, info.n, ctx);
  {
    const auto dset = h5::open_dataset(file, "materials", ctx);
    const auto mspace = h5::checked(H5Dget_space(dset.get()), Kind::dataspace, ctx, "dataspace of 'materials'");
    // Every material names at least one sample, so a valid file has at most n of them; a corrupt extent must not
    // size the buffer (the fuzzer's 2^40-entry claim ran the allocator out of memory).
    const hssize_t points = H5Sget_simple_extent_npoints(mspace.get());
    if (points < 0 || static_cast<std::uint64_t>(points) > info.n)
      throw_error<IoError>(ctx, ": dataset 'materials' claims ", points, " entries for ", info.n, " samples");
    const auto m = static_cast<std::size_t>(points);
    const auto str = h5::checked(H5Tcopy(H5T_C_S1), Kind::datatype, ctx, "string type");
    h5::check(H5Tset_size(str.get(), H5T_VARIABLE), ctx, "string type");
    h5::check(H5Tset_cset(str.get(), H5T_CSET_UTF8), ctx, "string type");
    std::vector<char*> raw(m, nullptr);
    if (m > 0) h5::check(H5Dread(dset.get(), str.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), ctx, "materials");
    for (char* s : raw) info.materials.emplace_back(s != nullptr ? s : "");
    if (m > 0) H5Dvlen_reclaim(str.get(), mspace.get(), H5P_DEFAULT, raw.data());
  }
  for (std::size_t i = 0; i < info.n; ++i) {
    if (info.labels[i] < 1 || info.labels[i] > 230)
      throw_error<IoError>(ctx, ": labels[", i, "] = ", info.labels[i], " is outside 1..230");
    if (info.material_ids[i] < -1 || info.material_ids[i] >= static_cast<std::int32_t>(info.materials.size()))
      throw_error<IoError>(ctx, ": material_ids[", i, "] = ", info.material_ids[i], " is not an index of 'materials'");
  }
  return info;
}

void read_packed_images(hid_t images, const PackedInfo& info, const std::vector<std::int64_t>& indices, float* out,
                        hid_t xfer, std::vector<std::uint16_t>& scratch, std::size_t calls) {
  std::lock_guard lock(h5::library_mutex());
  const std::string ctx = h5::where(info.path, "/images");
  const auto per = static_cast<std::size_t>(info.sample.per_sample());
  const hsize_t block[4] = {1, static_cast<hsize_t>(info.sample.c), static_cast<hsize_t>(info.sample.h),
                            static_cast<hsize_t>(info.sample.w)};
  const auto fspace = h5::checked(H5Dget_space(images), Kind::dataspace, ctx, "getting the dataspace");
  // The memory space has the block's own 4-d shape: HDF5 then maps chunk to memory by blocks, not per element.
  const auto mspace = h5::checked(H5Screate_simple(4, block, nullptr), Kind::dataspace, ctx, "memory dataspace");
  const auto memtype = packed_memory_type(info.dtype, ctx);
  if (info.dtype == PackedDType::f16) scratch.resize(per);
  calls = std::max(calls, indices.size());
  for (std::size_t j = 0; j < calls; ++j) {
    void* target = nullptr;
    if (j < indices.size()) {
      const std::int64_t i = indices[j];
      CBEDNET_REQUIRE(i >= 0 && static_cast<std::size_t>(i) < info.n, IoError, ctx, ": sample index ", i,
                      " out of range (", info.n, ")");
      // One regular hyperslab (one chunk) per call: a union of scattered blocks is an irregular selection,
      // which HDF5 1.10 maps to chunks element by element (50x slower).
      const hsize_t start[4] = {static_cast<hsize_t>(i), 0, 0, 0};
      h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, block, nullptr), ctx, "selecting");
      h5::check(H5Sselect_all(mspace.get()), ctx, "selecting");
      target = info.dtype == PackedDType::f16 ? static_cast<void*>(scratch.data()) : static_cast<void*>(out + j * per);
    } else {  // this rank has fewer samples this step: join the collective call with an empty selection
      h5::check(H5Sselect_none(fspace.get()), ctx, "selecting");
      h5::check(H5Sselect_none(mspace.get()), ctx, "selecting");
      target = info.dtype == PackedDType::f16 ? static_cast<void*>(scratch.data()) : static_cast<void*>(out);
    }
    h5::check(H5Dread(images, memtype.get(), mspace.get(), fspace.get(), xfer, target), ctx, "reading samples");
    if (info.dtype == PackedDType::f16 && j < indices.size())
      for (std::size_t e = 0; e < per; ++e) out[j * per + e] = half_to_float(scratch[e]);
  }
}

namespace {

class PackedSource final : public SampleSource {
 public:
  PackedSource(const std::string& path, const SourceOptions& options) : pre_(options.preprocess) {
    std::lock_guard lock(h5::library_mutex());
    file_ = h5::open_file_readonly(path);
    info_ = read_packed_info(file_.get(), path);
    images_ = h5::open_dataset(file_.get(), "images", h5::where(path));
    const Split wanted = parse_split(options.split);
    for (std::size_t i = 0; i < info_.n; ++i)
      if (wanted == Split::unknown || info_.split[i] == static_cast<std::int8_t>(wanted))
        index_.push_back(static_cast<std::int64_t>(i));
    if (index_.empty()) throw_error<IoError>("file ", path, ": no samples of split ", options.split);
    CBEDNET_REQUIRE(pre_.mean.empty() || static_cast<std::int64_t>(pre_.mean.size()) == info_.sample.c, InvalidArgument,
                    "file ", path, ": normalisation has ", pre_.mean.size(), " channels, the file has ",
                    info_.sample.c);
  }
  std::size_t size() const override { return index_.size(); }
  Shape sample_shape() const override { return info_.sample; }
  int label(std::size_t i) const override { return info_.labels[at(i)]; }
  std::string material(std::size_t i) const override {
    const auto id = info_.material_ids[at(i)];
    return id >= 0 ? info_.materials[static_cast<std::size_t>(id)] : std::string();
  }
  Split split(std::size_t i) const override { return static_cast<Split>(info_.split[at(i)]); }
  SampleLocation location(std::size_t i) const override { return {info_.path, {}, static_cast<std::int64_t>(at(i))}; }
  std::string describe() const override { return "packed file " + info_.path; }
  void read(std::size_t i, float* out_chw) const override {
    std::lock_guard lock(h5::library_mutex());
    read_packed_images(images_.get(), info_, {static_cast<std::int64_t>(at(i))}, out_chw, H5P_DEFAULT, scratch_, 1);
    normalise(pre_, out_chw, static_cast<int>(info_.sample.c), info_.sample.h * info_.sample.w);
  }
  const PackedInfo& info() const { return info_; }

 private:
  std::size_t at(std::size_t i) const {
    CBEDNET_REQUIRE(i < index_.size(), InvalidArgument, "file ", info_.path, ": sample ", i, " out of range (",
                    index_.size(), ")");
    return static_cast<std::size_t>(index_[i]);
  }
  Preprocess pre_;
  h5::Handle file_, images_;
  PackedInfo info_;
  std::vector<std::int64_t> index_;
  mutable std::vector<std::uint16_t> scratch_;
};

}  // namespace

std::unique_ptr<SampleSource> open_packed_source(const std::string& path, const SourceOptions& options) {
  return std::make_unique<PackedSource>(path, options);
}

}  // namespace cbednet::io
