// RAII ownership of HDF5 identifiers (hid_t) and the small checked helpers every reader/writer shares.
//
// Every identifier is closed by the H5*close matching its kind (file, group, dataset, dataspace, datatype,
// attribute, property list). Every failing HDF5 call becomes an IoError whose message names the file and the
// object (group / dataset / attribute) concerned; HDF5's own error-stack printing is switched off once per
// process (silence_hdf5_errors) so that users see one message, not a stack dump per failure.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace cbednet::io::h5 {

// Turns off HDF5's automatic error printing for the default stack (idempotent, thread-safe).
void silence_hdf5_errors();

enum class Kind { file, group, dataset, dataspace, datatype, attribute, plist };

// Owns one hid_t; closes it with the H5*close of its kind. Move-only.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, Kind kind) : id_(id), kind_(kind) {}
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), kind_(other.kind_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      kind_ = other.kind_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false if the close itself failed (a file close can fail when flushing).
  bool reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
  Kind kind_ = Kind::plist;
};

// Wraps a freshly returned id; throws IoError(context, ": ", what) when the call failed (id < 0).
Handle checked(hid_t id, Kind kind, const std::string& context, const char* what);
// Throws IoError(context, ": ", what) when an herr_t (or htri_t) result is negative.
void check(herr_t status, const std::string& context, const char* what);

// "file F, group G" (or "file F" when the group is empty): the prefix of every message.
std::string where(const std::string& file, const std::string& object = {});

// Typed helpers around H5O objects; `ctx` is the where() text used in messages.
Handle open_file_readonly(const std::string& path, hid_t fapl = H5P_DEFAULT);
Handle open_group(hid_t parent, const std::string& name, const std::string& ctx);
Handle open_dataset(hid_t parent, const std::string& name, const std::string& ctx);
bool has_link(hid_t parent, const std::string& name, const std::string& ctx);
bool has_attribute(hid_t object, const std::string& name, const std::string& ctx);
Handle make_plist(hid_t cls, const std::string& ctx);

// Attributes. Strings may be fixed- or variable-length (read); written as variable-length UTF-8. Reading also
// accepts a single integer (returned as its decimal text).
std::string read_string_attribute(hid_t object, const std::string& name, const std::string& ctx);
// The same for a one-element dataset (scalar or [1]) named `name` under `parent`.
std::string read_string_dataset(hid_t parent, const std::string& name, const std::string& ctx);
void write_string_attribute(hid_t object, const std::string& name, const std::string& value, const std::string& ctx);
// Reads a numeric attribute of exactly `count` elements converted to double / int64.
void read_double_attribute(hid_t object, const std::string& name, double* out, std::size_t count,
                           const std::string& ctx);
std::int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& ctx);
// Writes `count` doubles with the given dataspace dims (rank dims_rank), or an int64 scalar.
void write_double_attribute(hid_t object, const std::string& name, const double* values, const hsize_t* dims,
                            int dims_rank, const std::string& ctx);
void write_int_attribute(hid_t object, const std::string& name, std::int64_t value, const std::string& ctx);

}  // namespace cbednet::io::h5
