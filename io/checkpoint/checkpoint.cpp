#include "io/checkpoint/checkpoint.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>

#include "cbednet/build_info.hpp"
#include "io/hdf5/h5_handle.hpp"
#include "io/hdf5/h5_lock.hpp"

namespace cbednet::io {

namespace fs = std::filesystem;
using h5::Handle;
using h5::Kind;

namespace {

constexpr const char* format_name = "cbednet-checkpoint";

class Checksum {
 public:
  void add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) {
      hash_ ^= p[i];
      hash_ *= 1099511628211ull;
    }
  }
  void add(const std::string& text) { add(text.data(), text.size()); }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
    return buf;
  }

 private:
  std::uint64_t hash_ = 1469598103934665603ull;
};

std::string stage_blocks_text(const std::vector<int>& blocks) {
  std::ostringstream out;
  for (std::size_t i = 0; i < blocks.size(); ++i) out << (i ? "," : "") << blocks[i];
  return out.str();
}

void write_dataset(hid_t group, const std::string& name, const Tensor& host, const std::string& ctx) {
  const hsize_t dims[4] = {static_cast<hsize_t>(host.shape().n), static_cast<hsize_t>(host.shape().c),
                           static_cast<hsize_t>(host.shape().h), static_cast<hsize_t>(host.shape().w)};
  const hid_t type = host.dtype() == DType::f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
  const Handle space = h5::checked(H5Screate_simple(4, dims, nullptr), Kind::dataspace, ctx, "create dataspace");
  const Handle set =
      h5::checked(H5Dcreate2(group, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  Kind::dataset, ctx + "/" + name, "create dataset");
  h5::check(H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, host.raw()), ctx + "/" + name, "write dataset");
}

using Datasets = NamedTensors;  // by name: the checksum's order

// FNV-1a over the groups in their fixed order (ModelTensors::groups), each dataset's name and bytes in name order.
// The optional groups (second moments, EMA) are empty in files without them, so those keep their checksum.
std::string checksum(const CheckpointTensors& tensors) {
  Checksum sum;
  for (const Datasets* group : tensors.groups())
    for (const auto& [name, t] : *group) {
      sum.add(name);
      sum.add(t.raw(), t.bytes());
    }
  return sum.hex();
}

// Reads a 4-d dataset as f64 or f32 (as stored); when `shape` is given it must match.
Tensor read_dataset(hid_t group, const std::string& name, const std::optional<Shape>& shape, const std::string& ctx) {
  const std::string where = ctx + "/" + name;
  CBEDNET_REQUIRE(h5::has_link(group, name, ctx), IoError, where,
                  ": missing (the checkpoint does not match this model)");
  const Handle set = h5::open_dataset(group, name, ctx);
  const Handle space = h5::checked(H5Dget_space(set.get()), Kind::dataspace, where, "get dataspace");
  hsize_t dims[4] = {};
  const int rank = H5Sget_simple_extent_ndims(space.get());
  CBEDNET_REQUIRE(rank == 4, IoError, where, ": expected a 4-d dataset, found rank ", rank);
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  // A corrupt file can claim any extent: bound the element count before it sizes an allocation (2^40 elements is
  // far beyond any model's tensor; the check divides, so it cannot overflow itself).
  std::uint64_t elements = 1;
  for (const hsize_t d : dims) {
    CBEDNET_REQUIRE(d == 0 || elements <= (std::uint64_t{1} << 40) / d, IoError, where, ": implausible extent ",
                    dims[0], "x", dims[1], "x", dims[2], "x", dims[3]);
    elements *= d;
  }
  const Shape found{static_cast<std::int64_t>(dims[0]), static_cast<std::int64_t>(dims[1]),
                    static_cast<std::int64_t>(dims[2]), static_cast<std::int64_t>(dims[3])};
  CBEDNET_REQUIRE(!shape || found == *shape, IoError, where, ": shape ", found.str(), " does not match the model's ",
                  shape ? shape->str() : "");
  const Handle type = h5::checked(H5Dget_type(set.get()), Kind::datatype, where, "get type");
  const bool is_double = H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_size(type.get()) == 8;
  CBEDNET_REQUIRE(H5Tget_class(type.get()) == H5T_FLOAT, IoError, where, ": not a floating-point dataset");
  Tensor host(found, is_double ? DType::f64 : DType::f32);
  h5::check(
      H5Dread(set.get(), is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, host.raw()),
      where, "read dataset");
  return host;
}

// Every dataset of a group, by name (for verification without a model).
Datasets read_group(hid_t file, const char* name, const std::string& path) {
  const Handle group = h5::open_group(file, name, h5::where(path));
  H5G_info_t info{};
  h5::check(H5Gget_info(group.get(), &info), h5::where(path, name), "list group");
  Datasets out;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    CBEDNET_REQUIRE(length > 0, IoError, h5::where(path, name), ": unreadable link ", i);
    std::string link(static_cast<std::size_t>(length), '\0');
    H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, link.data(), link.size() + 1, H5P_DEFAULT);
    out.emplace(link, read_dataset(group.get(), link, std::nullopt, h5::where(path, name)));
  }
  return out;
}

Handle create_group(hid_t parent, const char* name, const std::string& ctx) {
  return h5::checked(H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), Kind::group, ctx, "create group");
}

void write_spec(hid_t group, const ResNetSpec& spec, const std::string& ctx) {
  h5::write_string_attribute(group, "arch", spec.arch, ctx);
  h5::write_string_attribute(group, "block", spec.block == ResidualBlock::Kind::basic ? "basic" : "bottleneck", ctx);
  h5::write_string_attribute(group, "stage_blocks", stage_blocks_text(spec.stage_blocks), ctx);
  h5::write_string_attribute(group, "stem", spec.stem == StemKind::imagenet ? "imagenet" : "small", ctx);
  h5::write_int_attribute(group, "base_width", spec.base_width, ctx);
  h5::write_int_attribute(group, "in_channels", spec.in_channels, ctx);
  h5::write_int_attribute(group, "classes", spec.classes, ctx);
  h5::write_int_attribute(group, "input_size", spec.input_size, ctx);
  const hsize_t one = 1;
  h5::write_double_attribute(group, "width_multiplier", &spec.width_multiplier, &one, 1, ctx);
  h5::write_double_attribute(group, "dropout", &spec.dropout, &one, 1, ctx);
  h5::write_int_attribute(group, "zero_init_residual", spec.zero_init_residual ? 1 : 0, ctx);
  h5::write_int_attribute(group, "pre_activation", spec.pre_activation ? 1 : 0, ctx);
}

ResNetSpec read_spec(hid_t group, const std::string& ctx) {
  const std::string block = h5::read_string_attribute(group, "block", ctx);
  ResNetSpec spec = resnet_spec((block == "basic" ? "basic:" : "bottleneck:") +
                                h5::read_string_attribute(group, "stage_blocks", ctx));
  spec.arch = h5::read_string_attribute(group, "arch", ctx);
  spec.stem = h5::read_string_attribute(group, "stem", ctx) == "small" ? StemKind::small : StemKind::imagenet;
  spec.base_width = h5::read_int_attribute(group, "base_width", ctx);
  spec.in_channels = h5::read_int_attribute(group, "in_channels", ctx);
  spec.classes = h5::read_int_attribute(group, "classes", ctx);
  spec.input_size = h5::read_int_attribute(group, "input_size", ctx);
  h5::read_double_attribute(group, "width_multiplier", &spec.width_multiplier, 1, ctx);
  h5::read_double_attribute(group, "dropout", &spec.dropout, 1, ctx);
  spec.zero_init_residual = h5::read_int_attribute(group, "zero_init_residual", ctx) != 0;
  // Absent in files written before pre-activation networks existed: those are post-activation.
  spec.pre_activation =
      h5::has_attribute(group, "pre_activation", ctx) && h5::read_int_attribute(group, "pre_activation", ctx) != 0;
  return spec;
}

// Metadata only, or (verify_data) every dataset too, checked against the checksum.
LoadedCheckpoint read_file(const std::string& path, bool verify_data) {
  std::lock_guard lock(h5::library_mutex());
  h5::silence_hdf5_errors();
  CBEDNET_REQUIRE(fs::exists(path), IoError, "checkpoint ", path, ": no such file");
  const Handle file = h5::open_file_readonly(path);
  const std::string ctx = h5::where(path);
  CBEDNET_REQUIRE(h5::has_attribute(file.get(), "cbednet_format", ctx) &&
                      h5::read_string_attribute(file.get(), "cbednet_format", ctx) == format_name,
                  IoError, "checkpoint ", path, ": not a CBEDNet checkpoint");
  const auto version = h5::read_int_attribute(file.get(), "format_version", ctx);
  CBEDNET_REQUIRE(version == checkpoint_format_version, IoError, "checkpoint ", path, ": format version ", version,
                  ", this cbednet reads version ", checkpoint_format_version);
  LoadedCheckpoint out;
  const Handle model = h5::open_group(file.get(), "model", ctx);
  out.info.spec = read_spec(model.get(), h5::where(path, "model"));
  const Handle state = h5::open_group(file.get(), "state", ctx);
  const std::string sctx = h5::where(path, "state");
  auto& s = out.info.state;
  s.epoch = h5::read_int_attribute(state.get(), "epoch", sctx);
  s.step_in_epoch = h5::read_int_attribute(state.get(), "step_in_epoch", sctx);
  s.global_step = h5::read_int_attribute(state.get(), "global_step", sctx);
  s.seed = static_cast<std::uint64_t>(h5::read_int_attribute(state.get(), "seed", sctx));
  h5::read_double_attribute(state.get(), "epoch_loss_sum", &s.epoch_loss_sum, 1, sctx);
  s.epoch_correct = h5::read_int_attribute(state.get(), "epoch_correct", sctx);
  s.epoch_samples = h5::read_int_attribute(state.get(), "epoch_samples", sctx);
  out.info.master_dtype = h5::read_string_attribute(state.get(), "master_dtype", sctx);
  if (h5::has_attribute(state.get(), "loss_scale", sctx)) {  // written since the loss scaler exists
    h5::read_double_attribute(state.get(), "loss_scale", &s.loss_scale, 1, sctx);
    s.loss_scale_good_steps = h5::read_int_attribute(state.get(), "loss_scale_good_steps", sctx);
  }
  s.optimizer_steps = h5::has_attribute(state.get(), "optimizer_steps", sctx)
                          ? h5::read_int_attribute(state.get(), "optimizer_steps", sctx)
                          : s.global_step;  // files from before the attribute existed
  out.info.config = h5::read_string_attribute(file.get(), "config", ctx);
  if (!verify_data) return out;

  CheckpointTensors& t = out.tensors;
  for (std::size_t g = 0; g < model_tensor_group_names.size(); ++g) {
    const char* name = model_tensor_group_names[g];
    // parameters, momentum and buffers are always there; second_moment and ema only when the run kept them.
    if (g < 3 || h5::has_link(file.get(), name, ctx)) *t.groups()[g] = read_group(file.get(), name, path);
  }
  const std::string expected = h5::read_string_attribute(file.get(), "checksum", ctx);
  const std::string computed = checksum(t);
  CBEDNET_REQUIRE(computed == expected, IoError, "checkpoint ", path, ": checksum mismatch (stored ", expected,
                  ", computed ", computed, "): the file is corrupt");
  return out;
}

void require_same_model(const std::string& path, const ResNetSpec& found, const ResNetSpec& expected) {
  auto text = [](const ResNetSpec& s) {
    std::ostringstream out;
    out << s.arch << (s.pre_activation ? " (pre-activation)" : "") << " [" << stage_blocks_text(s.stage_blocks)
        << "] width " << s.base_width << "x" << s.width_multiplier << ", " << s.in_channels << " channels, "
        << s.classes << " classes";
    return out.str();
  };
  const bool same = found.block == expected.block && found.stage_blocks == expected.stage_blocks &&
                    found.base_width == expected.base_width && found.width_multiplier == expected.width_multiplier &&
                    found.in_channels == expected.in_channels && found.classes == expected.classes &&
                    found.stem == expected.stem && found.pre_activation == expected.pre_activation;
  CBEDNET_REQUIRE(same, IoError, "checkpoint ", path, " holds ", text(found), ", but the model is ", text(expected));
}

}  // namespace

void save_checkpoint(const std::string& path, const ResNetSpec& spec, const TrainingState& state,
                     const std::string& config, const CheckpointTensors& tensors) {
  const Datasets& params = tensors.parameters;
  const std::string master_dtype = params.empty() ? "fp32" : to_string(params.begin()->second.dtype());
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    std::lock_guard lock(h5::library_mutex());
    h5::silence_hdf5_errors();
    const std::string ctx = h5::where(tmp);
    Handle file =
        h5::checked(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), Kind::file, ctx, "create file");
    for (std::size_t index = 0; index < model_tensor_group_names.size(); ++index) {
      const Datasets& group = *tensors.groups()[index];
      if (index >= 3 && group.empty()) continue;  // optional optimizer state: only when the run keeps it
      const Handle g = create_group(file.get(), model_tensor_group_names[index], ctx);
      for (const auto& [name, t] : group) write_dataset(g.get(), name, t, ctx);
    }
    {
      const Handle g = create_group(file.get(), "model", ctx);
      write_spec(g.get(), spec, ctx);
    }
    {
      const Handle g = create_group(file.get(), "state", ctx);
      h5::write_int_attribute(g.get(), "epoch", state.epoch, ctx);
      h5::write_int_attribute(g.get(), "step_in_epoch", state.step_in_epoch, ctx);
      h5::write_int_attribute(g.get(), "global_step", state.global_step, ctx);
      h5::write_int_attribute(g.get(), "optimizer_steps", state.optimizer_steps, ctx);
      h5::write_int_attribute(g.get(), "seed", static_cast<std::int64_t>(state.seed), ctx);
      const hsize_t one = 1;
      h5::write_double_attribute(g.get(), "epoch_loss_sum", &state.epoch_loss_sum, &one, 1, ctx);
      h5::write_int_attribute(g.get(), "epoch_correct", state.epoch_correct, ctx);
      h5::write_int_attribute(g.get(), "epoch_samples", state.epoch_samples, ctx);
      h5::write_string_attribute(g.get(), "master_dtype", master_dtype, ctx);
      h5::write_double_attribute(g.get(), "loss_scale", &state.loss_scale, &one, 1, ctx);
      h5::write_int_attribute(g.get(), "loss_scale_good_steps", state.loss_scale_good_steps, ctx);
    }
    h5::write_string_attribute(file.get(), "cbednet_format", format_name, ctx);
    h5::write_int_attribute(file.get(), "format_version", checkpoint_format_version, ctx);
    h5::write_string_attribute(file.get(), "cbednet_version", build_info::version, ctx);
    h5::write_string_attribute(file.get(), "config", config, ctx);
    h5::write_string_attribute(file.get(), "checksum", checksum(tensors), ctx);
    CBEDNET_REQUIRE(H5Fflush(file.get(), H5F_SCOPE_GLOBAL) >= 0 && file.reset(), IoError, "checkpoint ", tmp,
                    ": could not flush and close (disk full?)");
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw_error<IoError>("checkpoint ", path, ": could not rename the temporary file: ", ec.message());
  }
}

CheckpointInfo read_checkpoint_info(const std::string& path) { return read_file(path, false).info; }

void verify_checkpoint(const std::string& path) { read_file(path, true); }

LoadedCheckpoint load_checkpoint(const std::string& path, const ResNetSpec& expected) {
  const CheckpointInfo meta = read_checkpoint_info(path);
  require_same_model(path, meta.spec, expected);
  return read_file(path, true);
}

std::string checkpoint_path(const std::string& dir, std::int64_t global_step) {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%08lld.h5", static_cast<long long>(global_step));
  return (fs::path(dir) / name).string();
}

namespace {
std::vector<std::pair<std::int64_t, std::string>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  static const std::regex pattern("ckpt-([0-9]+)\\.h5");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, pattern)) found.emplace_back(std::stoll(m[1].str()), entry.path().string());
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  return found;
}
}  // namespace

std::optional<std::string> latest_checkpoint(const std::string& dir, std::string* skipped) {
  for (const auto& [step, path] : list_checkpoints(dir)) {
    try {
      verify_checkpoint(path);
      return path;
    } catch (const Error& e) {
      if (skipped != nullptr) *skipped += std::string(skipped->empty() ? "" : "\n") + "skipped " + e.what();
    }
  }
  return std::nullopt;
}

void prune_checkpoints(const std::string& dir, int keep) {
  // Temporary files of writes that never finished (their process is gone: killed mid-write).
  std::error_code ec;
  static const std::regex temporary("ckpt-[0-9]+\\.h5\\.tmp-([0-9]+)");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, temporary) && !fs::exists("/proc/" + m[1].str())) fs::remove(entry.path(), ec);
  }
  const auto found = list_checkpoints(dir);
  for (std::size_t i = static_cast<std::size_t>(std::max(keep, 1)); i < found.size(); ++i) {
    std::error_code ec;
    fs::remove(found[i].second, ec);
  }
}

}  // namespace cbednet::io
