#include "io/hdf5/h5_handle.hpp"

#include <memory>
#include <mutex>
#include <vector>

#include "io/hdf5/h5_lock.hpp"

namespace cbednet::io::h5 {

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

bool Handle::reset() noexcept {
  if (id_ < 0) return true;
  // Closing is an HDF5 call like any other: a handle may die outside the scope that locked for its use (a
  // member, an evicted file of a cache, stack unwinding), and an unlocked H5Fclose on the loader's thread while
  // the main thread writes a checkpoint corrupts the non-thread-safe library's heap.
  std::lock_guard lock(library_mutex());
  herr_t status = 0;
  switch (kind_) {
    case Kind::file:
      status = H5Fclose(id_);
      break;
    case Kind::group:
      status = H5Gclose(id_);
      break;
    case Kind::dataset:
      status = H5Dclose(id_);
      break;
    case Kind::dataspace:
      status = H5Sclose(id_);
      break;
    case Kind::datatype:
      status = H5Tclose(id_);
      break;
    case Kind::attribute:
      status = H5Aclose(id_);
      break;
    case Kind::plist:
      status = H5Pclose(id_);
      break;
  }
  id_ = H5I_INVALID_HID;
  return status >= 0;
}

Handle checked(hid_t id, Kind kind, const std::string& context, const char* what) {
  if (id < 0) throw_error<IoError>(context, ": ", what, " failed");
  return Handle(id, kind);
}

void check(herr_t status, const std::string& context, const char* what) {
  if (status < 0) throw_error<IoError>(context, ": ", what, " failed");
}

std::string where(const std::string& file, const std::string& object) {
  return object.empty() ? "file " + file : "file " + file + ", group " + object;
}

Handle open_file_readonly(const std::string& path, hid_t fapl) {
  silence_hdf5_errors();
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 == 0) throw_error<IoError>("file ", path, ": not an HDF5 file (no HDF5 signature)");
  if (is_h5 < 0) throw_error<IoError>("file ", path, ": cannot be opened (missing or unreadable)");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (id < 0) throw_error<IoError>("file ", path, ": cannot be opened as HDF5 (truncated or corrupt?)");
  return Handle(id, Kind::file);
}

Handle open_group(hid_t parent, const std::string& name, const std::string& ctx) {
  return checked(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), Kind::group, ctx, "opening the group");
}

Handle open_dataset(hid_t parent, const std::string& name, const std::string& ctx) {
  if (!has_link(parent, name, ctx)) throw_error<IoError>(ctx, ": no dataset '", name, "'");
  return checked(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), Kind::dataset, ctx,
                 ("opening dataset '" + name + "'").c_str());
}

bool has_link(hid_t parent, const std::string& name, const std::string& ctx) {
  const htri_t exists = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
  check(exists, ctx, "checking a link");
  return exists > 0;
}

bool has_attribute(hid_t object, const std::string& name, const std::string& ctx) {
  const htri_t exists = H5Aexists(object, name.c_str());
  check(exists, ctx, "checking an attribute");
  return exists > 0;
}

Handle make_plist(hid_t cls, const std::string& ctx) {
  return checked(H5Pcreate(cls), Kind::plist, ctx, "creating a property list");
}

namespace {
Handle open_attribute(hid_t object, const std::string& name, const std::string& ctx) {
  if (!has_attribute(object, name, ctx)) throw_error<IoError>(ctx, ": missing attribute '", name, "'");
  return checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), Kind::attribute, ctx,
                 ("opening attribute '" + name + "'").c_str());
}

std::string trim_string(std::string s) {
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  const auto nul = s.find('\0');
  if (nul != std::string::npos) s.resize(nul);
  return s;
}
}  // namespace

namespace {
// One text value of an attribute or a dataset: a fixed- or variable-length string, or an integer (some writers
// store numbers directly). `read(memtype, buffer)` is H5Aread or H5Dread.
template <class Read>
std::string read_text(hid_t type, hid_t space, const std::string& ctx, Read read) {
  const hssize_t points = H5Sget_simple_extent_npoints(space);
  if (points != 1) throw_error<IoError>(ctx, ": expected a single value, found ", points, " elements");
  const H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_INTEGER) {
    long long value = 0;
    check(read(H5T_NATIVE_LLONG, &value), ctx, "reading");
    return std::to_string(value);
  }
  if (cls != H5T_STRING) throw_error<IoError>(ctx, ": neither a string nor an integer");
  const htri_t variable = H5Tis_variable_str(type);
  check(variable, ctx, "querying the string type");
  const auto memtype = checked(H5Tcopy(H5T_C_S1), Kind::datatype, ctx, "copying a string type");
  check(H5Tset_cset(memtype.get(), H5Tget_cset(type)), ctx, "setting the character set");
  if (variable > 0) {
    check(H5Tset_size(memtype.get(), H5T_VARIABLE), ctx, "setting a variable size");
    char* raw = nullptr;
    check(read(memtype.get(), &raw), ctx, "reading");
    std::string value = raw != nullptr ? std::string(raw) : std::string();
    H5free_memory(raw);
    return value;
  }
  const std::size_t size = H5Tget_size(type);
  if (size == 0) throw_error<IoError>(ctx, ": zero-size string type");
  check(H5Tset_size(memtype.get(), size), ctx, "setting the size");
  check(H5Tset_strpad(memtype.get(), H5T_STR_NULLPAD), ctx, "setting the padding");
  std::string buffer(size, '\0');
  check(read(memtype.get(), buffer.data()), ctx, "reading");
  return trim_string(std::move(buffer));
}
}  // namespace

std::string read_string_attribute(hid_t object, const std::string& name, const std::string& ctx) {
  const auto attr = open_attribute(object, name, ctx);
  const std::string actx = ctx + ", attribute '" + name + "'";
  const auto type = checked(H5Aget_type(attr.get()), Kind::datatype, actx, "getting the type");
  const auto space = checked(H5Aget_space(attr.get()), Kind::dataspace, actx, "getting the dataspace");
  return read_text(type.get(), space.get(), actx,
                   [&](hid_t memtype, void* buffer) { return H5Aread(attr.get(), memtype, buffer); });
}

std::string read_string_dataset(hid_t parent, const std::string& name, const std::string& ctx) {
  const auto dataset = open_dataset(parent, name, ctx);
  const std::string dctx = ctx + ", dataset '" + name + "'";
  const auto type = checked(H5Dget_type(dataset.get()), Kind::datatype, dctx, "getting the type");
  const auto space = checked(H5Dget_space(dataset.get()), Kind::dataspace, dctx, "getting the dataspace");
  return read_text(type.get(), space.get(), dctx, [&](hid_t memtype, void* buffer) {
    return H5Dread(dataset.get(), memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
  });
}

void write_string_attribute(hid_t object, const std::string& name, const std::string& value, const std::string& ctx) {
  const std::string actx = ctx + ", attribute '" + name + "'";
  const auto type = checked(H5Tcopy(H5T_C_S1), Kind::datatype, actx, "copying a string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), actx, "setting a variable size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), actx, "setting UTF-8");
  const auto space = checked(H5Screate(H5S_SCALAR), Kind::dataspace, actx, "creating a scalar dataspace");
  const auto attr = checked(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                            Kind::attribute, actx, "creating");
  const char* raw = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &raw), actx, "writing");
}

void read_double_attribute(hid_t object, const std::string& name, double* out, std::size_t count,
                           const std::string& ctx) {
  const auto attr = open_attribute(object, name, ctx);
  const std::string actx = ctx + ", attribute '" + name + "'";
  const auto space = checked(H5Aget_space(attr.get()), Kind::dataspace, actx, "getting the dataspace");
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points != static_cast<hssize_t>(count))
    throw_error<IoError>(actx, ": expected ", count, " values, found ", points);
  check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, out), actx, "reading as double");
}

std::int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& ctx) {
  const auto attr = open_attribute(object, name, ctx);
  const std::string actx = ctx + ", attribute '" + name + "'";
  const auto space = checked(H5Aget_space(attr.get()), Kind::dataspace, actx, "getting the dataspace");
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw_error<IoError>(actx, ": expected one value");
  std::int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), actx, "reading as int64");
  return value;
}

void write_double_attribute(hid_t object, const std::string& name, const double* values, const hsize_t* dims,
                            int dims_rank, const std::string& ctx) {
  const std::string actx = ctx + ", attribute '" + name + "'";
  const auto space = checked(H5Screate_simple(dims_rank, dims, nullptr), Kind::dataspace, actx, "creating a dataspace");
  const auto attr = checked(H5Acreate2(object, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                            Kind::attribute, actx, "creating");
  check(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, values), actx, "writing");
}

void write_int_attribute(hid_t object, const std::string& name, std::int64_t value, const std::string& ctx) {
  const std::string actx = ctx + ", attribute '" + name + "'";
  const auto space = checked(H5Screate(H5S_SCALAR), Kind::dataspace, actx, "creating a scalar dataspace");
  const auto attr = checked(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                            Kind::attribute, actx, "creating");
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), actx, "writing");
}

}  // namespace cbednet::io::h5
