#include "io/hdf5/smc_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <tuple>

#include "io/hdf5/h5_lock.hpp"

namespace cbednet::io {

namespace {

using h5::Kind;

std::optional<std::pair<long long, long long>> sample_indices(const std::string& name) {
  constexpr std::string_view prefix = "sample_";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const char* p = name.data() + prefix.size();
  const char* end = name.data() + name.size();
  long long i = 0, k = 0;
  auto r1 = std::from_chars(p, end, i);
  if (r1.ec != std::errc() || r1.ptr == p || r1.ptr == end || *r1.ptr != '_') return std::nullopt;
  auto r2 = std::from_chars(r1.ptr + 1, end, k);
  if (r2.ec != std::errc() || r2.ptr == r1.ptr + 1 || r2.ptr != end) return std::nullopt;
  return std::pair{i, k};
}

void write_string(hid_t object, const std::string& name, const std::string& value, bool fixed, const std::string& ctx) {
  if (!fixed) return h5::write_string_attribute(object, name, value, ctx);
  const std::string actx = ctx + ", attribute '" + name + "'";
  const auto type = h5::checked(H5Tcopy(H5T_C_S1), Kind::datatype, actx, "copying a string type");
  h5::check(H5Tset_size(type.get(), std::max<std::size_t>(1, value.size())), actx, "setting the size");
  h5::check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), actx, "setting the padding");
  const auto space = h5::checked(H5Screate(H5S_SCALAR), Kind::dataspace, actx, "creating a dataspace");
  const auto attr = h5::checked(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                Kind::attribute, actx, "creating");
  std::string buffer = value;
  buffer.resize(std::max<std::size_t>(1, value.size()), '\0');
  h5::check(H5Awrite(attr.get(), type.get(), buffer.data()), actx, "writing");
}

template <std::size_t N>
void read_optional_doubles(hid_t group, const char* name, std::optional<std::array<double, N>>& out,
                           const std::string& ctx) {
  // The release's float attributes are unreliable (written as ppc64le long double); never fail on them.
  try {
    if (!h5::has_attribute(group, name, ctx)) return;
    std::array<double, N> values{};
    h5::read_double_attribute(group, name, values.data(), N, ctx);
    out = values;
  } catch (const IoError&) {
    out.reset();
  }
}

}  // namespace

bool is_sample_group_name(const std::string& name) { return sample_indices(name).has_value(); }

int parse_space_group(const std::string& text, const std::string& ctx) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  std::size_t last = text.find_last_not_of(" \t\r\n");
  const std::string trimmed = first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
  int value = 0;
  const auto r = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  if (trimmed.empty() || r.ec != std::errc() || r.ptr != trimmed.data() + trimmed.size())
    throw_error<IoError>(ctx, ": attribute 'space_group' = '", text, "' is not an integer");
  if (value < 1 || value > 230) throw_error<IoError>(ctx, ": attribute 'space_group' = ", value, " is outside 1..230");
  return value;
}

// ---------------------------------------------------------------------------------------------- writer

SmcFileWriter::SmcFileWriter(std::string path) : path_(std::move(path)) {
  h5::silence_hdf5_errors();
  temp_path_ = path_ + ".tmp-" + std::to_string(::getpid());
  std::lock_guard lock(h5::library_mutex());
  file_ = h5::checked(H5Fcreate(temp_path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), Kind::file,
                      h5::where(temp_path_), "creating the file");
}

SmcFileWriter::~SmcFileWriter() {
  if (committed_) return;
  std::lock_guard lock(h5::library_mutex());
  file_.reset();
  std::error_code ignored;
  std::filesystem::remove(temp_path_, ignored);
}

void SmcFileWriter::write(const SmcSample& s) {
  CBEDNET_REQUIRE(!committed_, Error, "file ", path_, ": write() after commit()");
  const std::string name = s.group_name.empty() ? "sample_" + std::to_string(count_) + "_0" : s.group_name;
  const std::string ctx = h5::where(path_, name);
  CBEDNET_REQUIRE(is_sample_group_name(name), InvalidArgument, ctx, ": group name must be sample_<i>_<k>");
  CBEDNET_REQUIRE(s.space_group >= 1 && s.space_group <= 230, InvalidArgument, ctx, ": space group ", s.space_group,
                  " is outside 1..230");
  CBEDNET_REQUIRE(s.size > 0, InvalidArgument, ctx, ": size S must be positive, got ", s.size);
  const std::size_t S = static_cast<std::size_t>(s.size);
  CBEDNET_REQUIRE(s.cbed_stack.size() == 3 * S * S, InvalidArgument, ctx, ": cbed_stack has ", s.cbed_stack.size(),
                  " values, expected 3*", S, "*", S);

  std::lock_guard lock(h5::library_mutex());
  CBEDNET_REQUIRE(!h5::has_link(file_.get(), name, ctx), InvalidArgument, ctx, ": duplicate group");
  const auto group = h5::checked(H5Gcreate2(file_.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                 Kind::group, ctx, "creating the group");
  const hsize_t dims[3] = {3, S, S};
  const auto space = h5::checked(H5Screate_simple(3, dims, nullptr), Kind::dataspace, ctx, "creating a dataspace");
  // Default creation properties give the contiguous, unfiltered layout of the original release.
  const auto dset = h5::checked(
      H5Dcreate2(group.get(), "cbed_stack", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      Kind::dataset, ctx, "creating dataset 'cbed_stack'");
  h5::check(H5Dwrite(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.cbed_stack.data()), ctx,
            "writing dataset 'cbed_stack'");

  write_string(group.get(), "space_group", std::to_string(s.space_group), fixed_length_strings_, ctx);
  if (s.material) write_string(group.get(), "material", *s.material, fixed_length_strings_, ctx);
  if (s.formula) h5::write_string_attribute(group.get(), "formula", *s.formula, ctx);
  if (s.energy_keV) h5::write_int_attribute(group.get(), "energy_keV", *s.energy_keV, ctx);
  const hsize_t three[1] = {3};
  const hsize_t z_dims[3] = {1, 3, 3};
  if (s.z_dirs) h5::write_double_attribute(group.get(), "z_dirs", s.z_dirs->data(), z_dims, 3, ctx);
  if (s.semi_angles_rad)
    h5::write_double_attribute(group.get(), "semi_angles_rad", s.semi_angles_rad->data(), three, 1, ctx);
  if (s.d_hkls_angstrom)
    h5::write_double_attribute(group.get(), "d_hkls_angstrom", s.d_hkls_angstrom->data(), three, 1, ctx);
  if (s.abc_angstrom) h5::write_double_attribute(group.get(), "abc_angstrom", s.abc_angstrom->data(), three, 1, ctx);
  if (s.angles_degree) h5::write_double_attribute(group.get(), "angles_degree", s.angles_degree->data(), three, 1, ctx);
  ++count_;
}

void SmcFileWriter::commit() {
  CBEDNET_REQUIRE(!committed_, Error, "file ", path_, ": commit() called twice");
  {
    std::lock_guard lock(h5::library_mutex());
    h5::check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), h5::where(temp_path_), "flushing");
    if (!file_.reset()) throw_error<IoError>("file ", temp_path_, ": closing failed");
  }
  std::error_code ec;
  std::filesystem::rename(temp_path_, path_, ec);
  if (ec) {
    std::filesystem::remove(temp_path_, ec);
    throw_error<IoError>("file ", path_, ": cannot rename the temporary file ", temp_path_, " into place");
  }
  committed_ = true;
}

// ---------------------------------------------------------------------------------------------- reader

namespace {
herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

// A small metadata cache: an SMC file's metadata is one small object header per group, read once while indexing
// and once per sample read, and a source keeps up to every file of the release open (1,138): with HDF5's default
// cache (2 MB to start) that held ~2.5 MB per open file, 2.9 GB for the release's tree in one process.
h5::Handle small_cache_access(const std::string& ctx) {
  h5::Handle fapl = h5::make_plist(H5P_FILE_ACCESS, ctx);
  H5AC_cache_config_t config{};
  config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  h5::check(H5Pget_mdc_config(fapl.get(), &config), ctx, "H5Pget_mdc_config");
  config.set_initial_size = true;
  config.initial_size = 64 * 1024;
  config.min_size = 16 * 1024;
  config.max_size = 256 * 1024;
  h5::check(H5Pset_mdc_config(fapl.get(), &config), ctx, "H5Pset_mdc_config");
  return fapl;
}
}  // namespace

SmcFileReader::SmcFileReader(std::string path) : path_(std::move(path)) {
  std::lock_guard lock(h5::library_mutex());
  const std::string ctx = h5::where(path_);
  file_ = h5::open_file_readonly(path_, small_cache_access(ctx).get());
  std::vector<std::string> links;
  h5::check(H5Literate(file_.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_link, &links), ctx,
            "listing the root groups");
  for (auto& name : links) {
    if (!is_sample_group_name(name)) continue;
    H5O_info_t info{};
    h5::check(H5Oget_info_by_name(file_.get(), name.c_str(), &info, H5P_DEFAULT), h5::where(path_, name),
              "getting object info");
    if (info.type == H5O_TYPE_GROUP) names_.push_back(std::move(name));
  }
  if (names_.empty()) throw_error<IoError>(ctx, ": contains no sample_<i>_<k> groups (empty file?)");
  std::sort(names_.begin(), names_.end(),
            [](const std::string& a, const std::string& b) { return sample_indices(a) < sample_indices(b); });
}

h5::Handle SmcFileReader::open(std::size_t i) const {
  CBEDNET_REQUIRE(i < names_.size(), InvalidArgument, "file ", path_, ": sample index ", i, " out of range (",
                  names_.size(), " samples)");
  return h5::open_group(file_.get(), names_[i], h5::where(path_, names_[i]));
}

std::optional<int> SmcFileReader::space_group_if_labelled(std::size_t i) const {
  std::lock_guard lock(h5::library_mutex());
  const auto group = open(i);
  const std::string ctx = h5::where(path_, names_[i]);
  // The release's writer stores an attribute; other writers of the same layout a dataset: both are read.
  if (h5::has_attribute(group.get(), "space_group", ctx))
    return parse_space_group(h5::read_string_attribute(group.get(), "space_group", ctx), ctx);
  if (h5::has_link(group.get(), "space_group", ctx))
    return parse_space_group(h5::read_string_dataset(group.get(), "space_group", ctx), ctx);
  return std::nullopt;
}

int SmcFileReader::space_group(std::size_t i) const {
  const auto label = space_group_if_labelled(i);
  if (!label)
    throw_error<IoError>(h5::where(path_, names_[i]),
                         ": no space_group (attribute or dataset): an unlabelled sample (cbednet predict reads "
                         "unlabelled data; training and evaluation need labels)");
  return *label;
}

std::string SmcFileReader::material(std::size_t i) const {
  std::lock_guard lock(h5::library_mutex());
  const auto group = open(i);
  const std::string ctx = h5::where(path_, names_[i]);
  try {
    if (h5::has_attribute(group.get(), "material", ctx)) return h5::read_string_attribute(group.get(), "material", ctx);
  } catch (const IoError&) {
  }
  return {};
}

namespace {
int stack_dims(hid_t dset, const std::string& ctx) {
  const auto space = h5::checked(H5Dget_space(dset), Kind::dataspace, ctx, "getting the dataspace of 'cbed_stack'");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  hsize_t dims[3] = {0, 0, 0};
  if (rank != 3) throw_error<IoError>(ctx, ": dataset 'cbed_stack' has rank ", rank, ", expected (3, S, S)");
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (dims[0] != 3 || dims[1] != dims[2] || dims[1] == 0)
    throw_error<IoError>(ctx, ": dataset 'cbed_stack' has shape (", dims[0], ", ", dims[1], ", ", dims[2],
                         "), expected (3, S, S)");
  const auto type = h5::checked(H5Dget_type(dset), Kind::datatype, ctx, "getting the type of 'cbed_stack'");
  if (H5Tget_class(type.get()) != H5T_FLOAT) throw_error<IoError>(ctx, ": dataset 'cbed_stack' is not floating point");
  return static_cast<int>(dims[1]);
}
}  // namespace

int SmcFileReader::stack_size(std::size_t i) const {
  std::lock_guard lock(h5::library_mutex());
  const auto group = open(i);
  const std::string ctx = h5::where(path_, names_[i]);
  const auto dset = h5::open_dataset(group.get(), "cbed_stack", ctx);
  return stack_dims(dset.get(), ctx);
}

int SmcFileReader::read_stack(std::size_t i, float* out, int expected_size) const {
  std::lock_guard lock(h5::library_mutex());
  const auto group = open(i);
  const std::string ctx = h5::where(path_, names_[i]);
  const auto dset = h5::open_dataset(group.get(), "cbed_stack", ctx);
  const int S = stack_dims(dset.get(), ctx);
  if (expected_size > 0 && S != expected_size)
    throw_error<IoError>(ctx, ": dataset 'cbed_stack' is 3x", S, "x", S, ", expected 3x", expected_size, "x",
                         expected_size, " like the other samples");
  h5::check(H5Dread(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), ctx,
            "reading dataset 'cbed_stack' (truncated file?)");
  const std::size_t n = 3 * static_cast<std::size_t>(S) * static_cast<std::size_t>(S);
  for (std::size_t j = 0; j < n; ++j) {
    if (!std::isfinite(out[j]))
      throw_error<IoError>(ctx, ": dataset 'cbed_stack' has a non-finite pixel (", out[j], ") at flat index ", j);
  }
  return S;
}

SmcSample SmcFileReader::read(std::size_t i) const {
  std::lock_guard lock(h5::library_mutex());
  SmcSample s;
  s.group_name = names_.at(i);
  s.space_group = space_group(i);
  s.size = stack_size(i);
  s.cbed_stack.resize(3 * static_cast<std::size_t>(s.size) * static_cast<std::size_t>(s.size));
  read_stack(i, s.cbed_stack.data(), s.size);

  const auto group = open(i);
  const std::string ctx = h5::where(path_, names_[i]);
  const auto optional_string = [&](const char* name, std::optional<std::string>& out) {
    try {
      if (h5::has_attribute(group.get(), name, ctx)) out = h5::read_string_attribute(group.get(), name, ctx);
    } catch (const IoError&) {
      out.reset();
    }
  };
  optional_string("material", s.material);
  optional_string("formula", s.formula);
  try {
    if (h5::has_attribute(group.get(), "energy_keV", ctx))
      s.energy_keV = h5::read_int_attribute(group.get(), "energy_keV", ctx);
  } catch (const IoError&) {
    s.energy_keV.reset();
  }
  read_optional_doubles(group.get(), "z_dirs", s.z_dirs, ctx);
  read_optional_doubles(group.get(), "semi_angles_rad", s.semi_angles_rad, ctx);
  read_optional_doubles(group.get(), "d_hkls_angstrom", s.d_hkls_angstrom, ctx);
  read_optional_doubles(group.get(), "abc_angstrom", s.abc_angstrom, ctx);
  read_optional_doubles(group.get(), "angles_degree", s.angles_degree, ctx);
  return s;
}

}  // namespace cbednet::io
