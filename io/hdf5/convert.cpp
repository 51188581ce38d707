#include "io/hdf5/convert.hpp"

#include <filesystem>
#include <sstream>
#include <unordered_map>

#include "io/hdf5/sample_source.hpp"

namespace cbednet::io {

ConvertReport convert_to_packed(const ConvertOptions& options) {
  CBEDNET_REQUIRE(!options.out.empty(), InvalidArgument, "--out: missing output file");
  std::error_code ec;
  CBEDNET_REQUIRE(!std::filesystem::is_directory(options.in, ec) ? !is_packed_file(options.in) : true, InvalidArgument,
                  "--in ", options.in, ": is already a packed file");
  // Index first without preprocessing, to learn S and choose the downsampling factor.
  SourceOptions probe_options{.split = options.split, .preprocess = Preprocess{}, .skip_bad = options.skip_bad};
  const auto probe = open_smc_source(options.in, probe_options);
  const int S = static_cast<int>(probe->sample_shape().h);
  Preprocess pre;
  pre.log_scale = options.log_scale;
  pre.separate_views = options.separate_views;
  if (options.size > 0) {
    CBEDNET_REQUIRE(options.size <= S && S % options.size == 0, InvalidArgument, "--size ", options.size,
                    ": must be S, S/2 or S/4 of the input size S = ", S);
    pre.downsample = S / options.size;
  }
  pre.validate(S);

  SourceOptions source_options{.split = options.split, .preprocess = pre, .skip_bad = options.skip_bad};
  const auto source = open_smc_source(options.in, source_options);
  ConvertReport report;
  report.sample = source->sample_shape();
  report.preprocessing = pre.describe();
  report.skipped = source->skipped();

  std::vector<std::size_t> good;
  std::vector<float> buffer(static_cast<std::size_t>(report.sample.per_sample()));
  // Pixel read failures are found while writing; with skip_bad a first pass finds them so N is exact.
  if (options.skip_bad) {
    for (std::size_t i = 0; i < source->size(); ++i) {
      try {
        source->read(i, buffer.data());
        good.push_back(i);
      } catch (const IoError&) {
        ++report.skipped;
      }
    }
  } else {
    good.resize(source->size());
    for (std::size_t i = 0; i < good.size(); ++i) good[i] = i;
  }
  CBEDNET_REQUIRE(!good.empty(), IoError, "path ", options.in, ": no readable samples to convert");

  PackedFileWriter writer(options.out, good.size(), report.sample, options.dtype);
  writer.set_attribute("source", std::filesystem::absolute(options.in).string());
  writer.set_attribute("preprocessing", report.preprocessing);
  writer.set_attribute("creator", options.creator);
  writer.set_attribute("original_size", std::int64_t{S});
  std::vector<std::string> materials;
  std::unordered_map<std::string, std::int32_t> ids;
  for (std::size_t j = 0; j < good.size(); ++j) {
    const std::size_t i = good[j];
    source->read(i, buffer.data());
    const std::string material = source->material(i);
    auto [it, inserted] = ids.try_emplace(material, static_cast<std::int32_t>(materials.size()));
    if (inserted) materials.push_back(material);
    writer.write(j, buffer.data(), source->label(i), it->second, source->split(i));
    if (options.on_written) options.on_written(j + 1, good.size());
  }
  writer.commit(materials);
  report.samples = good.size();
  return report;
}

DataSummary summarise(const std::string& path, const std::string& split) {
  DataSummary s;
  s.path = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_error<IoError>("path ", path, ": does not exist");
  const bool directory = std::filesystem::is_directory(path, ec);
  const bool packed = !directory && is_packed_file(path);
  s.kind = packed ? "packed" : directory ? "smc-directory" : "smc-file";
  const auto source = open_source(path, SourceOptions{.split = split, .preprocess = Preprocess{}, .skip_bad = false});
  s.samples = source->size();
  s.sample = source->sample_shape();
  s.dtype = "float32";
  std::unordered_map<std::string, int> materials;
  for (std::size_t i = 0; i < s.samples; ++i) {
    const int sg = source->label(i);
    ++s.by_space_group[sg];
    ++s.by_system[static_cast<std::size_t>(crystal_system(sg))];
    const Split sp = source->split(i);
    ++s.split_counts[sp == Split::unknown ? 3 : static_cast<std::size_t>(sp)];
    materials.try_emplace(source->material(i), 0);
  }
  s.materials = materials.size();
  if (packed) {
    const auto file = h5::open_file_readonly(path);
    const auto info = read_packed_info(file.get(), path);
    s.dtype = to_string(info.dtype);
    s.preprocessing = info.preprocessing;
    s.source = info.source;
    s.creator = info.creator;
  }
  return s;
}

namespace {
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}
}  // namespace

std::string to_json(const DataSummary& s) {
  std::ostringstream o;
  o << "{\"kind\": " << json_string(s.kind) << ", \"path\": " << json_string(s.path) << ", \"samples\": " << s.samples
    << ", \"shape\": [" << s.sample.c << ", " << s.sample.h << ", " << s.sample.w
    << "], \"dtype\": " << json_string(s.dtype) << ", \"materials\": " << s.materials
    << ", \"splits\": {\"train\": " << s.split_counts[0] << ", \"dev\": " << s.split_counts[1]
    << ", \"test\": " << s.split_counts[2] << ", \"unknown\": " << s.split_counts[3] << "}, \"space_groups\": {";
  bool first = true;
  for (const auto& [sg, n] : s.by_space_group) {
    o << (first ? "" : ", ") << "\"" << sg << "\": " << n;
    first = false;
  }
  o << "}, \"crystal_systems\": {";
  for (int c = 1; c <= 7; ++c) o << (c > 1 ? ", " : "") << "\"" << crystal_system_name(c) << "\": " << s.by_system[c];
  o << "}";
  if (s.kind == "packed")
    o << ", \"preprocessing\": " << json_string(s.preprocessing) << ", \"source\": " << json_string(s.source)
      << ", \"creator\": " << json_string(s.creator);
  o << "}\n";
  return o.str();
}

std::string to_text(const DataSummary& s) {
  std::ostringstream o;
  o << s.kind << " " << s.path << "\n  samples   " << s.samples << "\n  shape     [C=" << s.sample.c
    << ", H=" << s.sample.h << ", W=" << s.sample.w << "] " << s.dtype << "\n  materials " << s.materials
    << "\n  splits    train " << s.split_counts[0] << ", dev " << s.split_counts[1] << ", test " << s.split_counts[2]
    << ", unknown " << s.split_counts[3] << "\n";
  if (s.kind == "packed")
    o << "  preprocessing " << s.preprocessing << "\n  source    " << s.source << "\n  creator   " << s.creator << "\n";
  o << "  crystal systems:\n";
  for (int c = 1; c <= 7; ++c) {
    const double pct = s.samples ? 100.0 * static_cast<double>(s.by_system[c]) / static_cast<double>(s.samples) : 0;
    char line[96];
    std::snprintf(line, sizeof line, "    %-13s %9zu  %5.1f%%\n", crystal_system_name(c), s.by_system[c], pct);
    o << line;
  }
  o << "  space groups (" << s.by_space_group.size() << " present):\n";
  for (const auto& [sg, n] : s.by_space_group) o << "    " << sg << "\t" << n << "\n";
  return o.str();
}

}  // namespace cbednet::io
