#include "io/hdf5/sample_source.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <list>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "io/arrays/array_source.hpp"
#include "io/hdf5/packed_file.hpp"
#include "io/hdf5/smc_file.hpp"

namespace cbednet::io {

namespace fs = std::filesystem;

const char* to_string(Split split) {
  switch (split) {
    case Split::train:
      return "train";
    case Split::dev:
      return "dev";
    case Split::test:
      return "test";
    case Split::unknown:
      break;
  }
  return "unknown";
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::train;
  if (name == "dev") return Split::dev;
  if (name == "test") return Split::test;
  if (name == "all") return Split::unknown;
  throw_error<InvalidArgument>("--split: expected train, dev, test or all, got '", name, "'");
}

int crystal_system(int sg) {
  CBEDNET_REQUIRE(sg >= 1 && sg <= 230, InvalidArgument, "space group ", sg, " is outside 1..230");
  if (sg <= 2) return 1;
  if (sg <= 15) return 2;
  if (sg <= 74) return 3;
  if (sg <= 142) return 4;
  if (sg <= 167) return 5;
  if (sg <= 194) return 6;
  return 7;
}

const char* crystal_system_name(int system) {
  static const char* names[] = {"?",          "triclinic", "monoclinic", "orthorhombic",
                                "tetragonal", "trigonal",  "hexagonal",  "cubic"};
  return system >= 1 && system <= 7 ? names[system] : names[0];
}

namespace {

// batch_<split>_<n>.h5 -> (split, n); other names -> (unknown, -1).
std::pair<Split, long long> parse_batch_name(const std::string& filename) {
  for (Split s : {Split::train, Split::dev, Split::test}) {
    const std::string prefix = std::string("batch_") + to_string(s) + "_";
    if (filename.rfind(prefix, 0) != 0 || filename.size() < prefix.size() + 4) continue;
    const std::string digits = filename.substr(prefix.size(), filename.size() - prefix.size() - 3);
    long long n = -1;
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (r.ec == std::errc() && r.ptr == digits.data() + digits.size()) return {s, n};
  }
  return {Split::unknown, -1};
}

bool is_h5(const fs::path& p) { return fs::is_regular_file(p) && (p.extension() == ".h5" || p.extension() == ".hdf5"); }

}  // namespace

std::vector<std::pair<std::string, Split>> list_smc_files(const std::string& path, const std::string& split_name) {
  const Split wanted = parse_split(split_name);
  std::error_code ec;
  if (!fs::exists(path, ec)) throw_error<IoError>("path ", path, ": does not exist");
  if (!fs::is_directory(path, ec)) return {{path, parse_batch_name(fs::path(path).filename().string()).first}};

  struct Entry {
    Split split;
    long long number;
    std::string path;
  };
  std::vector<Entry> entries;
  bool has_split_dirs = false;
  for (Split s : {Split::train, Split::dev, Split::test})
    has_split_dirs |= fs::is_directory(fs::path(path) / to_string(s));
  if (has_split_dirs) {
    for (Split s : {Split::train, Split::dev, Split::test}) {
      const fs::path dir = fs::path(path) / to_string(s);
      if ((wanted != Split::unknown && wanted != s) || !fs::is_directory(dir)) continue;
      for (const auto& e : fs::directory_iterator(dir)) {
        if (!is_h5(e.path())) continue;
        entries.push_back({s, parse_batch_name(e.path().filename().string()).second, e.path().string()});
      }
    }
  } else {
    for (const auto& e : fs::directory_iterator(path)) {
      if (!is_h5(e.path())) continue;
      const auto [s, n] = parse_batch_name(e.path().filename().string());
      if (wanted != Split::unknown && s != Split::unknown && s != wanted) continue;
      entries.push_back({s, n, e.path().string()});
    }
  }
  if (entries.empty())
    throw_error<IoError>("directory ", path, ": no .h5 files", wanted == Split::unknown ? "" : " for split ",
                         wanted == Split::unknown ? "" : to_string(wanted), " (empty directory?)");
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.split, a.number, a.path) < std::tie(b.split, b.number, b.path);
  });
  std::vector<std::pair<std::string, Split>> files;
  for (auto& e : entries) files.emplace_back(std::move(e.path), e.split);
  return files;
}

namespace {}  // namespace

std::size_t open_file_budget(std::size_t files) {
  constexpr std::size_t floor = 8;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return floor;
  const auto usable = [](rlim_t n) -> std::size_t {
    if (n == RLIM_INFINITY) return std::numeric_limits<std::size_t>::max() / 2;
    const auto count = static_cast<std::size_t>(n);
    return count > 1024 ? count - std::max<std::size_t>(256, count / 4) : count / 2;
  };
  if (usable(limit.rlim_cur) < files && limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    const auto wanted = static_cast<rlim_t>(files + files / 3 + 1024);
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(limit.rlim_max, wanted);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return std::max(floor, std::min(files, usable(limit.rlim_cur)));
}

namespace {

// One source's share of the process's budget of open files: several sources live at once (train's training and
// validation splits, convert's readers), and together they must stay within the descriptor limit. Returned when
// the source goes away.
class OpenFileShare {
 public:
  explicit OpenFileShare(std::size_t files) {
    std::lock_guard lock(mutex());
    const std::size_t capacity = open_file_budget(files + reserved());  // may raise the limit for all of them
    count_ = std::max<std::size_t>(8, std::min(files, capacity > reserved() ? capacity - reserved() : 0));
    reserved() += count_;
  }
  ~OpenFileShare() {
    std::lock_guard lock(mutex());
    reserved() -= count_;
  }
  OpenFileShare(const OpenFileShare&) = delete;
  OpenFileShare& operator=(const OpenFileShare&) = delete;
  std::size_t count() const { return count_; }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::size_t& reserved() {
    static std::size_t r = 0;
    return r;
  }
  std::size_t count_ = 0;
};

class SmcSource final : public SampleSource {
 public:
  SmcSource(const std::string& path, const SourceOptions& options) : path_(path), pre_(options.preprocess) {
    const auto files = list_smc_files(path, options.split);
    share_ = std::make_unique<OpenFileShare>(files.size());
    open_files_ = share_->count();
    for (const auto& [file, split] : files) {
      std::shared_ptr<SmcFileReader> reader;
      try {
        reader = std::make_shared<SmcFileReader>(file);
      } catch (const IoError& e) {
        if (!options.skip_bad) throw;
        ++skipped_;
        reasons_.push_back(e.what());
        continue;
      }
      const auto file_index = static_cast<std::uint32_t>(files_.size());
      files_.push_back(file);
      for (std::size_t g = 0; g < reader->size(); ++g) {
        Entry e{file_index, static_cast<std::uint32_t>(g), 0, 0, split};
        try {
          e.label = static_cast<std::int16_t>(options.allow_unlabelled ? reader->space_group_if_labelled(g).value_or(0)
                                                                       : reader->space_group(g));
          const int S = reader->stack_size(g);
          if (size_ == 0) size_ = S;
          if (S != size_)
            throw_error<IoError>(h5::where(file, reader->group_names()[g]), ": cbed_stack is 3x", S, "x", S,
                                 ", expected 3x", size_, "x", size_, " like the first sample");
        } catch (const IoError& e) {
          if (!options.skip_bad) throw;
          ++skipped_;
          reasons_.push_back(e.what());
          continue;
        }
        const std::string material = reader->material(g);
        auto [it, inserted] = material_ids_.try_emplace(material, static_cast<std::uint32_t>(materials_.size()));
        if (inserted) materials_.push_back(material);
        e.material = it->second;
        entries_.push_back(e);
      }
      // Indexing opened the file: keep it open for the reads (within the budget) instead of opening it again.
      if (cache_.size() < open_files_) {
        cache_.emplace_back(file_index, std::move(reader));
        cache_index_[file_index] = std::prev(cache_.end());
      }
    }
    if (entries_.empty()) throw_error<IoError>("path ", path, ": no readable samples");
    pre_.validate(size_);
    description_ = "SMC " + std::string(fs::is_directory(path) ? "directory " : "file ") + path + " (split " +
                   options.split + ", " + std::to_string(files_.size()) + " files" +
                   (open_files_ < files_.size() ? ", " + std::to_string(open_files_) + " kept open" : "") + ")";
  }

  std::size_t size() const override { return entries_.size() * views(); }
  Shape sample_shape() const override { return pre_.sample_shape(size_); }
  int label(std::size_t i) const override { return entry(i).label; }
  std::string material(std::size_t i) const override { return materials_[entry(i).material]; }
  Split split(std::size_t i) const override { return entry(i).split; }
  SampleLocation location(std::size_t i) const override {
    const Entry& e = entry(i);
    return {files_[e.file], reader(e.file)->group_names()[e.group], -1};
  }
  std::string describe() const override { return description_; }
  std::size_t skipped() const override { return skipped_; }
  std::vector<std::string> skipped_reasons() const override { return reasons_; }
  std::vector<std::uint32_t> sample_files() const override {
    if (files_.size() < 2) return {};
    std::vector<std::uint32_t> out(size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = entries_[i / views()].file;
    return out;
  }

  void read(std::size_t i, float* out_chw) const override {
    const Entry& e = entry(i);
    thread_local std::vector<float> stack;
    stack.resize(3 * static_cast<std::size_t>(size_) * size_);
    const auto file = reader(e.file);
    file->read_stack(e.group, stack.data(), size_);
    preprocess_stack(pre_, stack.data(), size_, static_cast<int>(i % views()), out_chw);
  }

 private:
  struct Entry {
    std::uint32_t file, group;
    std::int16_t label;
    std::uint32_t material;
    Split split;
  };
  std::size_t views() const { return pre_.separate_views ? 3 : 1; }
  const Entry& entry(std::size_t i) const {
    CBEDNET_REQUIRE(i < size(), InvalidArgument, description_, ": sample ", i, " out of range (", size(), ")");
    return entries_[i / views()];
  }

  // Keeps up to open_files_ files open (open_file_budget: every file of the release's 1,138 where the descriptor
  // limit allows), least recently used out first. An evicted file is closed after the cache's mutex is released
  // (closing takes the HDF5 library lock; a reader's last user may close it too, see h5::Handle::reset).
  std::shared_ptr<const SmcFileReader> reader(std::uint32_t file) const {
    std::shared_ptr<const SmcFileReader> evicted;
    std::lock_guard lock(cache_mutex_);
    if (const auto found = cache_index_.find(file); found != cache_index_.end()) {
      cache_.splice(cache_.begin(), cache_, found->second);
      return cache_.front().second;
    }
    cache_.emplace_front(file, std::make_shared<const SmcFileReader>(files_[file]));
    cache_index_[file] = cache_.begin();
    if (cache_.size() > open_files_) {
      cache_index_.erase(cache_.back().first);
      evicted = std::move(cache_.back().second);
      cache_.pop_back();
    }
    return cache_.front().second;
  }

  std::unique_ptr<OpenFileShare> share_;  // declared before the cache: returned after its files are closed
  std::size_t open_files_ = 8;
  std::string path_;
  Preprocess pre_;
  int size_ = 0;
  std::vector<std::string> files_;
  std::vector<Entry> entries_;
  std::vector<std::string> materials_;
  std::unordered_map<std::string, std::uint32_t> material_ids_;
  std::size_t skipped_ = 0;
  std::vector<std::string> reasons_;
  std::string description_;
  mutable std::mutex cache_mutex_;
  using CacheList = std::list<std::pair<std::uint32_t, std::shared_ptr<const SmcFileReader>>>;
  mutable CacheList cache_;
  mutable std::unordered_map<std::uint32_t, CacheList::iterator> cache_index_;
};

}  // namespace

std::unique_ptr<SampleSource> open_smc_source(const std::string& path, const SourceOptions& options) {
  return std::make_unique<SmcSource>(path, options);
}

std::unique_ptr<SampleSource> open_source(const std::string& path, const SourceOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw_error<IoError>("path ", path, ": does not exist");
  if (is_array_input(path, options)) return open_array_source(path, options);
  if (!fs::is_directory(path, ec) && is_packed_file(path)) return open_packed_source(path, options);
  return open_smc_source(path, options);
}

}  // namespace cbednet::io
