// ArraySource: the SampleSource over array files (NumPy, TIFF, an HDF5 dataset), one ArrayReader per file.
#include "io/arrays/array_source.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.hpp"
#include "io/arrays/array_reader.hpp"

namespace cbednet::io {

namespace fs = std::filesystem;

std::pair<std::size_t, int> stacks_of_shape(const std::size_t* dims, int rank, const std::string& ctx) {
  const bool single = rank == 3, many = rank == 4;
  const std::size_t* stack = many ? dims + 1 : dims;
  if ((!single && !many) || stack[0] != 3 || stack[1] != stack[2] || stack[1] == 0) {
    std::string shape;
    for (int d = 0; d < rank; ++d) shape += (d ? ", " : "") + std::to_string(dims[d]);
    throw_error<IoError>(ctx, ": shape [", shape,
                         "]; expected [N, 3, S, S] or [3, S, S] (3 projections of S x S pixels each)");
  }
  return {many ? dims[0] : 1, static_cast<int>(stack[1])};
}

namespace {

constexpr int max_stack_size = 16384;

enum class Format { npy, tiff, none };

Format format_of(const fs::path& file) {
  auto ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".npy") return Format::npy;
  if (ext == ".tif" || ext == ".tiff") return Format::tiff;
  return Format::none;
}

// The array files `path` names, sorted: one file, or every .npy/.tif/.tiff file of a directory.
std::vector<std::string> array_files(const std::string& path) {
  if (!fs::is_directory(path)) return {path};
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_regular_file() && format_of(e.path()) != Format::none) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

class ArraySource final : public SampleSource {
 public:
  ArraySource(const std::string& path, const SourceOptions& options) : pre_(options.preprocess) {
    CBEDNET_REQUIRE(options.split == "all", InvalidArgument, "--split ", options.split, ": ", path,
                    " is plain arrays, which have no train/dev/test split (use --split all)");
    for (const auto& file : array_files(path)) {
      std::unique_ptr<ArrayReader> reader;
      try {
        reader = !options.dataset.empty()         ? open_h5_array(file, options.dataset)
                 : format_of(file) == Format::npy ? open_npy(file)
                                                  : open_tiff(file);
      } catch (const IoError& e) {
        if (!options.skip_bad) throw;
        ++skipped_;
        reasons_.push_back(e.what());
        continue;
      }
      // A bound before anything is allocated for a stack: a damaged header must not ask for terabytes.
      CBEDNET_REQUIRE(reader->stack_size() <= max_stack_size, IoError, "file ", file, ": ", reader->stack_size(), "x",
                      reader->stack_size(), " pixels per projection is more than the ", max_stack_size,
                      " a detector gives (a damaged header?)");
      if (size_ == 0) size_ = reader->stack_size();
      if (reader->stack_size() != size_)
        throw_error<IoError>("file ", file, ": stacks of ", reader->stack_size(), "x", reader->stack_size(),
                             " pixels, but ", readers_.front()->path(), " has ", size_, "x", size_,
                             " (one model input size for all)");
      for (std::size_t s = 0; s < reader->size(); ++s) index_.emplace_back(readers_.size(), s);
      readers_.push_back(std::move(reader));
    }
    if (index_.empty()) throw_error<IoError>("path ", path, ": no readable stacks (.npy, .tif/.tiff files)");
    // The model's input size decides the box-averaging factor: S must be a multiple of it.
    if (options.input_size > 0) {
      CBEDNET_REQUIRE(size_ % options.input_size == 0, IoError, "path ", path, ": ", size_, "x", size_,
                      " pixels cannot be reduced to the model's ", options.input_size, "x", options.input_size,
                      " input by box averaging (the size must be a multiple of it)");
      pre_.downsample = size_ / options.input_size;
    }
    CBEDNET_REQUIRE(size_ % pre_.downsample == 0, IoError, "path ", path, ": size ", size_,
                    " is not divisible by the downsampling factor ", pre_.downsample);
    description_ = "arrays " + path + " (" + std::to_string(readers_.size()) + " files, " +
                   std::to_string(index_.size()) + " stacks of 3x" + std::to_string(size_) + "x" +
                   std::to_string(size_) + ")";
  }

  std::size_t size() const override { return index_.size() * views(); }
  Shape sample_shape() const override { return pre_.sample_shape(size_); }
  int label(std::size_t) const override { return 0; }  // arrays carry no labels
  std::string material(std::size_t) const override { return {}; }
  Split split(std::size_t) const override { return Split::unknown; }
  SampleLocation location(std::size_t i) const override {
    const auto [r, s] = at(i);
    return {readers_[r]->path(), readers_[r]->entry(s), -1};
  }
  std::string describe() const override { return description_; }
  std::size_t skipped() const override { return skipped_; }
  std::vector<std::string> skipped_reasons() const override { return reasons_; }

  void read(std::size_t i, float* out_chw) const override {
    const auto [r, s] = at(i);
    thread_local std::vector<float> stack;
    stack.resize(3 * static_cast<std::size_t>(size_) * size_);
    readers_[r]->read(s, stack.data());
    if (!std::all_of(stack.begin(), stack.end(), [](float v) { return std::isfinite(v); })) {
      const auto entry = readers_[r]->entry(s);
      throw_error<IoError>("file ", readers_[r]->path(), entry.empty() ? "" : ", ", entry,
                           ": non-finite pixel (NaN or infinity)");
    }
    preprocess_stack(pre_, stack.data(), size_, static_cast<int>(i % views()), out_chw);
  }

 private:
  std::size_t views() const { return pre_.separate_views ? 3 : 1; }
  std::pair<std::size_t, std::size_t> at(std::size_t i) const {
    CBEDNET_REQUIRE(i < size(), InvalidArgument, description_, ": sample ", i, " out of range (", size(), ")");
    return index_[i / views()];
  }

  Preprocess pre_;
  std::vector<std::unique_ptr<ArrayReader>> readers_;
  std::vector<std::pair<std::size_t, std::size_t>> index_;  // (reader, stack) per sample
  int size_ = 0;
  std::size_t skipped_ = 0;
  std::vector<std::string> reasons_;
  std::string description_;
};

}  // namespace

bool is_array_input(const std::string& path, const SourceOptions& options) {
  if (!options.dataset.empty()) return true;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return format_of(path) != Format::none;
  bool arrays = false;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (e.path().extension() == ".h5") return false;  // an SMC directory
    arrays = arrays || format_of(e.path()) != Format::none;
  }
  return arrays;
}

std::unique_ptr<SampleSource> open_array_source(const std::string& path, const SourceOptions& options) {
  return std::make_unique<ArraySource>(path, options);
}

}  // namespace cbednet::io
