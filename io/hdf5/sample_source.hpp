// Where training samples come from: an SMC-2019 directory or file (per-group reads) or a packed file.
//
// A SampleSource knows every sample's label and material without reading pixels (they are indexed at open), so
// the loader can hand labels to every rank and a pipeline's last stage never touches images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "io/preprocess.hpp"

namespace cbednet::io {

enum class Split : std::int8_t { train = 0, dev = 1, test = 2, unknown = -1 };

// Where a sample lives, for people and for tools that open the file themselves (the report's gallery): a group
// of an SMC file ({"/data/test/batch_test_0.h5", "sample_3_1"}) or a row of a packed file ({"packed.h5", "12"}).
struct SampleLocation {
  std::string file;
  std::string group;      // SMC: the sample's group; empty for a packed file
  std::int64_t row = -1;  // packed: the row of `images`; -1 for an SMC group
};
const char* to_string(Split split);
// "train", "dev", "test"; "all" returns unknown (meaning: every split). InvalidArgument otherwise.
Split parse_split(const std::string& name);

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual std::size_t size() const = 0;
  // Shape{1, C, H, W} of one sample as read() delivers it.
  virtual Shape sample_shape() const = 0;
  virtual int label(std::size_t i) const = 0;             // space group 1..230; 0 = unlabelled (allow_unlabelled)
  virtual std::string material(std::size_t i) const = 0;  // "" when unknown
  virtual Split split(std::size_t i) const = 0;
  virtual SampleLocation location(std::size_t i) const = 0;
  // Writes sample i, preprocessed, into out_chw[C*H*W]. IoError naming file and group on failure.
  virtual void read(std::size_t i, float* out_chw) const = 0;
  // "SMC directory /data (train, 1138 files)" / "packed file x.h5": for logs and inspect.
  virtual std::string describe() const = 0;
  // Samples dropped while indexing (bad label, unreadable group) when opened with skip_bad.
  virtual std::size_t skipped() const { return 0; }
  // Why: one message per unreadable file or dropped sample, naming it.
  virtual std::vector<std::string> skipped_reasons() const { return {}; }
  // For sources of many files (SMC directories): the index of each sample's file (grouped shuffling, loader.hpp);
  // empty for a source of one file.
  virtual std::vector<std::uint32_t> sample_files() const { return {}; }
};

struct SourceOptions {
  std::string split = "all";  // train | dev | test | all (directories with split subfolders / batch names)
  Preprocess preprocess{};    // SMC sources apply all of it; packed sources only the normalisation
  bool skip_bad = false;      // drop (and count) samples whose label or shape cannot be read at open
  // SMC sources: a sample without any `space_group` gets label 0 (unknown) instead of an error: predict applies a
  // model to unlabelled data. Training and evaluation keep this false.
  bool allow_unlabelled = false;
  // Plain arrays (io/arrays/array_source.hpp): the HDF5 dataset holding the stacks (predict --dataset), and the
  // model's input size, which sets the box-averaging factor for whatever size the arrays have (0: keep downsample).
  std::string dataset{};
  int input_size = 0;
};

// How many files an SMC source keeps open: all `files` where the process may hold that many descriptors, so that a
// shuffled step costs the same however many files the data has (docs/data-format.md §2). Keeps a quarter of the
// limit (at least 256) for MPI, HDF5 and the run's own files, raises the soft limit towards the hard one when that
// is needed (as HPC codes commonly do; the hard limit is the administrator's), and never returns less than 8.
std::size_t open_file_budget(std::size_t files);

// SMC-2019 layout: a directory with train/ dev/ test/ subfolders, a flat directory of batch_<split>_<n>.h5
// (or any *.h5), or one file. Reads are independent (one group at a time), through a small cache of open files.
std::unique_ptr<SampleSource> open_smc_source(const std::string& path, const SourceOptions& options);
// Opens whatever `path` is: plain arrays (.npy, .tif/.tiff, or an HDF5 dataset when options.dataset is set), a
// directory (SMC), a packed file (root attribute cbednet_format) or an SMC file.
std::unique_ptr<SampleSource> open_source(const std::string& path, const SourceOptions& options = {});
// Lists the SMC files a path resolves to (sorted by split, then batch number), with the split each one is in.
std::vector<std::pair<std::string, Split>> list_smc_files(const std::string& path, const std::string& split);

// 1..7: triclinic, monoclinic, orthorhombic, tetragonal, trigonal, hexagonal, cubic.
int crystal_system(int space_group);
const char* crystal_system_name(int system);

}  // namespace cbednet::io
