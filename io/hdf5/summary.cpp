// What `cbednet inspect` prints about a data set: counts by split, space group and crystal system, as text or JSON.
#include <filesystem>
#include <sstream>
#include <unordered_map>

#include "core/json.hpp"
#include "io/hdf5/convert.hpp"
#include "io/hdf5/sample_source.hpp"

namespace cbednet::io {

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
