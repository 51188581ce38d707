// One file of the ORNL SMC Data Challenge 2019 layout (see docs/data-format.md): root groups `sample_<i>_<k>`,
// each holding dataset `cbed_stack` float32 [3, S, S] and attribute `space_group` (a string "1".."230").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "io/hdf5/h5_handle.hpp"
#include "io/smc_sample.hpp"

namespace cbednet::io {

// Writes one SMC-2019 layout file: root groups sample_<i>_<k>, each with dataset cbed_stack float32 [3,S,S]
// (contiguous) and attributes (space_group as a variable-length string "225", plus every optional attribute of
// SmcSample that is set: material, formula (vlen UTF-8), energy_keV (int64), z_dirs (1,3,3) f64,
// semi_angles_rad, d_hkls_angstrom, abc_angstrom, angles_degree (3) f64).
// Writes to "<path>.tmp-<pid>" and renames to path in commit(); if destroyed without commit the temp file is removed.
class SmcFileWriter {
 public:
  explicit SmcFileWriter(std::string path);
  ~SmcFileWriter();
  SmcFileWriter(const SmcFileWriter&) = delete;
  SmcFileWriter& operator=(const SmcFileWriter&) = delete;

  // Throws InvalidArgument for a bad sample (space group outside 1..230, stack size != 3*S*S, duplicate or
  // malformed group name) and IoError for HDF5 failures. An empty group_name becomes "sample_<count>_0".
  void write(const SmcSample& s);
  // Closes the file and renames it to its final path; no write() afterwards.
  void commit();

  // The original release stores `space_group` (and `material`) as fixed-length NULLPAD strings; this writes
  // them that way too (tests use it to cover both encodings).
  void set_fixed_length_strings(bool fixed) { fixed_length_strings_ = fixed; }
  std::size_t count() const { return count_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  h5::Handle file_;
  std::size_t count_ = 0;
  bool committed_ = false;
  bool fixed_length_strings_ = false;
};

// Reads every sample group of one file (any order, gaps allowed); `space_group` may be a fixed- or variable-length
// string; optional attributes read when present and never required.
class SmcFileReader {
 public:
  explicit SmcFileReader(std::string path);

  std::size_t size() const { return names_.size(); }
  // Sorted by (i, k) of sample_<i>_<k>, numerically.
  const std::vector<std::string>& group_names() const { return names_; }
  SmcSample read(std::size_t i) const;
  // Label only (no pixels): 1..230 from the attribute or dataset `space_group` (string or integer); IoError naming
  // file and group when it is absent or not a space group.
  int space_group(std::size_t i) const;
  // The same, but nullopt for a sample with no `space_group` at all (unlabelled data, e.g. from a microscope).
  std::optional<int> space_group_if_labelled(std::size_t i) const;
  // Pixels only, into out[3*S*S]; `expected_size` S (0: any). Checks shape, dtype and finiteness. Returns S.
  int read_stack(std::size_t i, float* out, int expected_size) const;
  // S of sample i from its dataspace (no pixels read).
  int stack_size(std::size_t i) const;
  // The `material` attribute, or "" when absent/unreadable.
  std::string material(std::size_t i) const;
  const std::string& path() const { return path_; }

 private:
  h5::Handle open(std::size_t i) const;

  std::string path_;
  h5::Handle file_;
  std::vector<std::string> names_;
};

// Parses a space-group attribute value ("225", " 12 "); IoError(ctx ...) unless it is an integer in 1..230.
int parse_space_group(const std::string& text, const std::string& ctx);
// True for names of the form sample_<digits>_<digits>.
bool is_sample_group_name(const std::string& name);

}  // namespace cbednet::io
