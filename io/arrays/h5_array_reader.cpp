// Stacks in one HDF5 dataset (`predict --dataset PATH`): [N, 3, S, S] or [3, S, S] of any integer or float type,
// converted by HDF5 to float32 as it reads one stack at a time (a hyperslab).
#include <hdf5.h>

#include <array>
#include <mutex>
#include <string>

#include "core/error.hpp"
#include "io/arrays/array_reader.hpp"
#include "io/hdf5/h5_handle.hpp"
#include "io/hdf5/h5_lock.hpp"

namespace cbednet::io {

namespace {

class H5ArrayReader final : public ArrayReader {
 public:
  H5ArrayReader(std::string path, std::string dataset) : path_(std::move(path)), name_(std::move(dataset)) {
    std::lock_guard lock(h5::library_mutex());
    file_ = h5::open_file_readonly(path_);
    ctx_ = h5::where(path_) + ", dataset '" + name_ + "'";
    if (!h5::has_link(file_.get(), name_, h5::where(path_)))
      throw_error<IoError>(ctx_, ": no such dataset (--dataset names a dataset inside the file, e.g. /data)");
    dataset_ = h5::open_dataset(file_.get(), name_, h5::where(path_));
    const auto type = h5::checked(H5Dget_type(dataset_.get()), h5::Kind::datatype, ctx_, "getting the type");
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw_error<IoError>(ctx_, ": holds neither integers nor floats");
    const auto space = h5::checked(H5Dget_space(dataset_.get()), h5::Kind::dataspace, ctx_, "getting the dataspace");
    rank_ = H5Sget_simple_extent_ndims(space.get());
    std::array<hsize_t, 4> dims{};
    if (rank_ < 0 || rank_ > 4) throw_error<IoError>(ctx_, ": rank ", rank_, ", expected [N, 3, S, S] or [3, S, S]");
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    std::array<std::size_t, 4> sizes{};
    for (int d = 0; d < rank_; ++d) sizes[static_cast<std::size_t>(d)] = static_cast<std::size_t>(dims[d]);
    std::tie(n_, size_) = stacks_of_shape(sizes.data(), rank_, ctx_);
  }
  std::size_t size() const override { return n_; }
  int stack_size() const override { return size_; }
  void read(std::size_t i, float* out) const override {
    CBEDNET_REQUIRE(i < n_, InvalidArgument, ctx_, ": stack ", i, " out of range (", n_, ")");
    std::lock_guard lock(h5::library_mutex());
    const auto S = static_cast<hsize_t>(size_);
    const auto file_space =
        h5::checked(H5Dget_space(dataset_.get()), h5::Kind::dataspace, ctx_, "getting the dataspace");
    if (rank_ == 4) {
      const std::array<hsize_t, 4> start{i, 0, 0, 0}, count{1, 3, S, S};
      h5::check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
                ctx_, "selecting a stack");
    }
    const std::array<hsize_t, 1> elements{3 * S * S};
    const auto memory_space =
        h5::checked(H5Screate_simple(1, elements.data(), nullptr), h5::Kind::dataspace, ctx_, "creating a dataspace");
    h5::check(H5Dread(dataset_.get(), H5T_NATIVE_FLOAT, memory_space.get(), file_space.get(), H5P_DEFAULT, out), ctx_,
              ("reading stack " + std::to_string(i)).c_str());
  }
  const std::string& path() const override { return path_; }
  std::string entry(std::size_t i) const override { return rank_ == 4 ? name_ + index_label(i) : name_; }

 private:
  std::string path_, name_, ctx_;
  h5::Handle file_, dataset_;
  int rank_ = 0;
  std::size_t n_ = 0;
  int size_ = 0;
};

}  // namespace

std::unique_ptr<ArrayReader> open_h5_array(const std::string& path, const std::string& dataset) {
  return std::make_unique<H5ArrayReader>(path, dataset);
}

}  // namespace cbednet::io
