// SMC-2019 layout -> packed layout, on one rank or shared among R ranks (docs/data-format.md §2): each rank converts
// whole source files, writing its rows into one file through parallel HDF5 (io/hdf5/packed_parallel.hpp);
// interrupted, the same command resumes without redoing the files already converted.
#include "io/hdf5/convert.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/parallel/mpi_comm.hpp"
#include "io/hdf5/packed_parallel.hpp"
#include "io/hdf5/sample_source.hpp"

namespace cbednet::io {

namespace fs = std::filesystem;

namespace {

// The communicator's rank and size; (0, 1) without one.
std::pair<int, int> place_in(MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return {0, 1};
  int rank = 0, size = 1;
  check_mpi_call(MPI_Comm_rank(comm, &rank), "Comm_rank");
  check_mpi_call(MPI_Comm_size(comm, &size), "Comm_size");
  return {rank, size};
}

void barrier(MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) check_mpi_call(MPI_Barrier(comm), "Barrier");
}

// Where a conversion keeps its work until it succeeds: the images file, the state (what the conversion is and
// which source samples become which rows) and one journal per rank of the source files finished.
struct PartialFiles {
  std::string images, state, journal_prefix;
  explicit PartialFiles(const std::string& out)
      : images(out + ".partial"), state(out + ".partial.state"), journal_prefix(out + ".partial.done-") {}
  std::vector<fs::path> journals() const {
    std::vector<fs::path> found;
    const fs::path prefix(journal_prefix);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(prefix.parent_path().empty() ? "." : prefix.parent_path(), ec))
      if (e.path().filename().string().starts_with(prefix.filename().string())) found.push_back(e.path());
    return found;
  }
  void remove_all() const {
    std::error_code ec;
    fs::remove(images, ec);
    fs::remove(state, ec);
    for (const auto& j : journals()) fs::remove(j, ec);
  }
};

// Identifies a conversion: its options and its source files (path, size, modification time). A partial file
// resumes only under the same fingerprint.
std::string fingerprint(const ConvertOptions& o, const Preprocess& pre) {
  std::ostringstream f;
  f << "cbednet-convert-1 split=" << o.split << " preprocessing=" << pre.describe() << " dtype=" << to_string(o.dtype)
    << " skip_bad=" << o.skip_bad;
  for (const auto& [file, split] : list_smc_files(o.in, o.split)) {
    std::error_code ec;
    const auto time = fs::last_write_time(file, ec).time_since_epoch().count();
    f << " | " << fs::absolute(file).string() << ' ' << fs::file_size(file, ec) << ' ' << time;
  }
  return f.str();
}

// The source samples to write, in row order: all of them, or with skip_bad those whose pixels read (every rank
// checks a share; the verdicts are combined).
std::vector<std::size_t> readable_samples(const SampleSource& source, bool skip_bad, MPI_Comm comm,
                                          std::size_t& skipped, std::vector<std::string>& reasons) {
  std::vector<std::size_t> good;
  if (!skip_bad) {
    good.resize(source.size());
    for (std::size_t i = 0; i < good.size(); ++i) good[i] = i;
    return good;
  }
  const auto [rank, ranks] = place_in(comm);
  std::vector<char> bad(source.size(), 0);
  std::vector<float> buffer(static_cast<std::size_t>(source.sample_shape().per_sample()));
  for (std::size_t i = static_cast<std::size_t>(rank); i < source.size(); i += static_cast<std::size_t>(ranks)) {
    try {
      source.read(i, buffer.data());
    } catch (const IoError& e) {
      bad[i] = 1;
      reasons.push_back(e.what());
    }
  }
  if (comm != MPI_COMM_NULL)
    check_mpi_call(MPI_Allreduce(MPI_IN_PLACE, bad.data(), static_cast<int>(bad.size()), MPI_CHAR, MPI_MAX, comm),
                   "Allreduce (bad samples)");
  for (std::size_t i = 0; i < bad.size(); ++i) {
    if (bad[i] != 0)
      ++skipped;
    else
      good.push_back(i);
  }
  return good;
}

// State file: the fingerprint line, then the source index of every row.
void write_state(const std::string& path, const std::string& print, const std::vector<std::size_t>& rows) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << print << '\n';
    for (const auto r : rows) out << r << '\n';
    if (!out) throw_error<IoError>("file ", tmp, ": cannot write the conversion state");
  }
  fs::rename(tmp, path);
}

std::optional<std::vector<std::size_t>> read_state(const std::string& path, const std::string& print) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line != print) return std::nullopt;
  std::vector<std::size_t> rows;
  std::size_t r = 0;
  while (in >> r) rows.push_back(r);
  return rows;
}

std::set<std::string> finished_files(const PartialFiles& partial) {
  std::set<std::string> done;
  for (const auto& journal : partial.journals()) {
    std::ifstream in(journal);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) done.insert(line);
  }
  return done;
}

// Source files in row order, each with its rows [first, last).
struct FileRows {
  std::string file;
  std::size_t first = 0, last = 0;
};
std::vector<FileRows> rows_by_file(const SampleSource& source, const std::vector<std::size_t>& rows) {
  std::vector<FileRows> files;
  for (std::size_t j = 0; j < rows.size(); ++j) {
    const std::string file = source.location(rows[j]).file;
    if (files.empty() || files.back().file != file) files.push_back({file, j, j});
    files.back().last = j + 1;
  }
  return files;
}

// Test hook for the resume test: the process kills itself after writing this many source files.
int kill_after_files() {
  const char* value = std::getenv("CBEDNET_TEST_CONVERT_KILL_AFTER_FILES");
  return value != nullptr ? std::atoi(value) : -1;
}

// This rank's share of the rows into the images: whole source files per rank, in contiguous blocks of about equal
// row counts; files an interrupted run finished are skipped. Returns the rows of those finished files (all ranks').
std::size_t write_rows(SampleSource& source, const std::vector<std::size_t>& rows, const PartialFiles& partial,
                       PackedImagesWriter& images, const std::function<void(std::size_t, std::size_t)>& on_written,
                       MPI_Comm comm) {
  const auto [rank, ranks] = place_in(comm);
  const auto done = finished_files(partial);
  std::ofstream journal(partial.journal_prefix + std::to_string(rank), std::ios::app);
  std::vector<float> buffer(static_cast<std::size_t>(source.sample_shape().per_sample()));
  std::size_t written = 0, files_written = 0, resumed_rows = 0;
  const std::size_t total = rows.size();
  for (const auto& f : rows_by_file(source, rows)) {
    const auto owner = static_cast<int>((f.first * static_cast<std::size_t>(ranks)) / total);
    if (done.count(f.file) != 0U) {
      resumed_rows += f.last - f.first;
      continue;
    }
    if (owner != rank) continue;
    for (std::size_t j = f.first; j < f.last; ++j) {
      source.read(rows[j], buffer.data());
      images.write(j, buffer.data());
      if (on_written) on_written(++written, total);
    }
    journal << f.file << '\n' << std::flush;  // the rows are with the OS: a killed job keeps them
    if (++files_written == static_cast<std::size_t>(kill_after_files())) std::raise(SIGKILL);
  }
  return resumed_rows;
}

// Labels, materials (numbered in order of first appearance), splits and attributes of the converted rows.
PackedMetadata packed_metadata(const SampleSource& source, const std::vector<std::size_t>& rows,
                               const ConvertOptions& options, const ConvertReport& report, int original_size) {
  PackedMetadata meta;
  std::unordered_map<std::string, std::int32_t> ids;
  for (const auto i : rows) {
    const std::string material = source.material(i);
    auto [it, inserted] = ids.try_emplace(material, static_cast<std::int32_t>(meta.materials.size()));
    if (inserted) meta.materials.push_back(material);
    meta.labels.push_back(static_cast<std::int16_t>(source.label(i)));
    meta.material_ids.push_back(it->second);
    meta.split.push_back(static_cast<std::int8_t>(source.split(i)));
  }
  meta.text_attributes = {{"cbednet_format", kPackedFormat},
                          {"dtype", to_string(options.dtype)},
                          {"source", fs::absolute(options.in).string()},
                          {"preprocessing", report.preprocessing},
                          {"creator", options.creator}};
  meta.int_attributes = {{"original_size", original_size}};
  return meta;
}

}  // namespace

ConvertReport convert_to_packed(const ConvertOptions& options) {
  CBEDNET_REQUIRE(!options.out.empty(), InvalidArgument, "--out: missing output file");
  std::error_code ec;
  CBEDNET_REQUIRE(!fs::is_directory(options.in, ec) ? !is_packed_file(options.in) : true, InvalidArgument, "--in ",
                  options.in, ": is already a packed file");
  const MPI_Comm comm = options.comm;
  const int rank = place_in(comm).first;
  // Index first without preprocessing, to learn S and choose the downsampling factor.
  const auto probe = open_smc_source(options.in, {.split = options.split, .skip_bad = options.skip_bad});
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
  const auto source =
      open_smc_source(options.in, {.split = options.split, .preprocess = pre, .skip_bad = options.skip_bad});
  ConvertReport report;
  report.sample = source->sample_shape();
  report.preprocessing = pre.describe();

  const PartialFiles partial(options.out);
  try {
    const std::string print = fingerprint(options, pre);
    auto rows = read_state(partial.state, print);
    report.resumed = rows.has_value() && fs::exists(partial.images);
    barrier(comm);  // every rank has decided before rank 0 may replace the state
    std::size_t skipped = source->skipped();
    if (!report.resumed) {
      rows = readable_samples(*source, options.skip_bad, comm, skipped, report.skipped_pixels);
      CBEDNET_REQUIRE(!rows->empty(), IoError, "path ", options.in, ": no readable samples to convert");
      if (rank == 0) {
        partial.remove_all();
        write_state(partial.state, print, *rows);
      }
      barrier(comm);
    } else {
      skipped += source->size() - rows->size();
    }
    report.skipped = skipped;
    report.skipped_at_open = source->skipped_reasons();
    PackedImagesWriter images(partial.images, rows->size(), report.sample, options.dtype, comm, report.resumed);

    report.resumed_rows = write_rows(*source, *rows, partial, images, options.on_written, comm);
    images.close();  // collective: every rank's rows are written
    if (rank == 0) {
      finish_packed_file(partial.images, options.out, packed_metadata(*source, *rows, options, report, S));
      partial.remove_all();
    }
    barrier(comm);
    report.samples = rows->size();
  } catch (...) {
    // An error (bad input, full disk) leaves nothing behind; only an interrupted job keeps its partial files.
    partial.remove_all();
    throw;
  }
  return report;
}

}  // namespace cbednet::io
