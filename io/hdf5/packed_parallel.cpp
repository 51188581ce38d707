#include "io/hdf5/packed_parallel.hpp"

#include <filesystem>
#include <mutex>

#include "io/hdf5/h5_lock.hpp"

namespace cbednet::io {

using h5::Kind;

namespace {

// MPI-IO when a communicator is given; the default (POSIX) driver otherwise.
h5::Handle file_access(MPI_Comm comm, const std::string& ctx) {
  auto fapl = h5::make_plist(H5P_FILE_ACCESS, ctx);
  if (comm != MPI_COMM_NULL) {
    h5::check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), ctx, "H5Pset_fapl_mpio");
    h5::check(H5Pset_all_coll_metadata_ops(fapl.get(), true), ctx, "H5Pset_all_coll_metadata_ops");
    h5::check(H5Pset_coll_metadata_write(fapl.get(), true), ctx, "H5Pset_coll_metadata_write");
  }
  return fapl;
}

// No modification times in object headers: two conversions of the same data write the same bytes.
void no_times(hid_t plist, const std::string& ctx) {
  h5::check(H5Pset_obj_track_times(plist, false), ctx, "H5Pset_obj_track_times");
}

}  // namespace

PackedImagesWriter::PackedImagesWriter(std::string partial, std::size_t n, Shape sample, PackedDType dtype,
                                       MPI_Comm comm, bool resume)
    : path_(std::move(partial)), n_(n), shape_(sample), dtype_(dtype) {
  CBEDNET_REQUIRE(n > 0 && sample.n == 1 && sample.per_sample() > 0, InvalidArgument, "file ", path_,
                  ": bad packed shape: ", n, " samples of ", sample.str());
  h5::silence_hdf5_errors();
  const std::string ctx = h5::where(path_);
  std::lock_guard lock(h5::library_mutex());
  const auto fapl = file_access(comm, ctx);
  const hsize_t dims[4] = {static_cast<hsize_t>(n), static_cast<hsize_t>(sample.c), static_cast<hsize_t>(sample.h),
                           static_cast<hsize_t>(sample.w)};
  if (resume) {
    file_ = h5::checked(H5Fopen(path_.c_str(), H5F_ACC_RDWR, fapl.get()), Kind::file, ctx,
                        "reopening the partial file to resume (delete it to start over)");
    images_ = h5::open_dataset(file_.get(), "images", ctx);
    const auto space = h5::checked(H5Dget_space(images_.get()), Kind::dataspace, ctx, "getting the dataspace");
    hsize_t found[4] = {};
    const bool same = H5Sget_simple_extent_ndims(space.get()) == 4 &&
                      H5Sget_simple_extent_dims(space.get(), found, nullptr) == 4 && std::equal(found, found + 4, dims);
    if (!same) throw_error<IoError>(ctx, ": its images do not have the shape this conversion writes; delete it");
    return;
  }
  const auto fcpl = h5::make_plist(H5P_FILE_CREATE, ctx);
  no_times(fcpl.get(), ctx);
  file_ = h5::checked(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), Kind::file, ctx,
                      "creating the file");
  const hsize_t chunk[4] = {1, dims[1], dims[2], dims[3]};
  const auto space = h5::checked(H5Screate_simple(4, dims, nullptr), Kind::dataspace, ctx, "creating a dataspace");
  const auto dcpl = h5::make_plist(H5P_DATASET_CREATE, ctx);
  h5::check(H5Pset_chunk(dcpl.get(), 4, chunk), ctx, "setting the chunk shape");
  // Every chunk allocated now: the chunk index is complete before any row is written, so independent raw writes
  // never change metadata (and MPI-IO readers later get a fixed index).
  h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), ctx, "setting the allocation time");
  h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), ctx, "setting the fill time");
  no_times(dcpl.get(), ctx);
  const auto file_type = packed_file_type(dtype, ctx);
  images_ =
      h5::checked(H5Dcreate2(file_.get(), "images", file_type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                  Kind::dataset, ctx, "creating dataset 'images'");
  // Metadata on disk now: a job killed from here on leaves a file that reopens.
  h5::check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), ctx, "flushing");
}

PackedImagesWriter::~PackedImagesWriter() {
  std::lock_guard lock(h5::library_mutex());
  images_.reset();
  file_.reset();
}

void PackedImagesWriter::write(std::size_t i, const float* chw) {
  const std::string ctx = h5::where(path_, "/images");
  CBEDNET_REQUIRE(i < n_, InvalidArgument, ctx, ": sample ", i, " out of range (", n_, ")");
  write_packed_row(images_.get(), dtype_, shape_, i, chw, half_, ctx);
}

void PackedImagesWriter::close() {
  const std::string ctx = h5::where(path_);
  std::lock_guard lock(h5::library_mutex());
  images_.reset();
  if (!file_.reset()) throw_error<IoError>(ctx, ": closing failed");
}

void finish_packed_file(const std::string& partial, const std::string& path, const PackedMetadata& metadata) {
  const std::string ctx = h5::where(partial);
  {
    std::lock_guard lock(h5::library_mutex());
    h5::Handle file =
        h5::checked(H5Fopen(partial.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), Kind::file, ctx, "reopening to finish");
    // Attributes first, then the datasets, each without modification times (as the images).
    for (const auto& [name, value] : metadata.text_attributes) h5::write_string_attribute(file.get(), name, value, ctx);
    for (const auto& [name, value] : metadata.int_attributes) h5::write_int_attribute(file.get(), name, value, ctx);
    write_packed_metadata(file.get(), metadata.labels, metadata.material_ids, metadata.split, metadata.materials, ctx);
    h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), ctx, "flushing");
    if (!file.reset()) throw_error<IoError>(ctx, ": closing failed");
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) throw_error<IoError>("file ", path, ": cannot rename ", partial, " into place: ", ec.message());
}

}  // namespace cbednet::io
