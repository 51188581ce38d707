// Small SMC-layout fixtures for the io/hdf5 tests: deterministic samples and a self-removing temp directory.
#pragma once

#include <unistd.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <string>

#include "core/rng.hpp"
#include "io/smc_sample.hpp"

namespace cbednet::io::testing {

// A unique directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("cbednet-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Sample `id` with size S: positive pixels spanning decades (like CBED), some exact zeros, a label from id.
inline SmcSample make_sample(int i, int k, int S, bool with_optional = true) {
  SmcSample s;
  s.group_name = "sample_" + std::to_string(i) + "_" + std::to_string(k);
  s.space_group = 1 + (i * 37 + k * 11) % 230;
  s.size = S;
  s.cbed_stack.resize(3 * static_cast<std::size_t>(S) * S);
  const RandomStream rng(1234, RngPurpose::test);
  for (std::size_t j = 0; j < s.cbed_stack.size(); ++j) {
    const double u = rng.uniform(static_cast<std::uint64_t>(i * 100 + k), j);
    s.cbed_stack[j] = u < 0.3 ? 0.0F : static_cast<float>(std::exp(-40.0 * u + 10.0));
  }
  if (with_optional) {
    s.material = "mp-" + std::to_string(1000 + i);
    s.formula = "Fe8 O14 F" + std::to_string(k);
    s.energy_keV = 100 + 10 * k;
    s.z_dirs = std::array<double, 9>{1, 1, 0, 1, -1, 1, -1, 1, 3};
    s.semi_angles_rad = std::array<double, 3>{0.00276776, 0.0028678, 0.00367309};
    s.d_hkls_angstrom = std::array<double, 3>{3.34336566, 3.22673953, 2.51930512};
    s.abc_angstrom = std::array<double, 3>{4.6456035, 7.54737513, 7.59231027 + i};
    s.angles_degree = std::array<double, 3>{75.75270737, 91.58467769, 89.08634999};
  }
  return s;
}

}  // namespace cbednet::io::testing

#include <map>
#include <vector>

#include "io/hdf5/smc_file.hpp"

namespace cbednet::io::testing {

// An SMC release in miniature: root/{train,dev,test}/batch_<split>_<n>.h5, groups with gaps and out of order.
// Returns every sample written, keyed by "<split>/<file>/<group>".
inline std::map<std::string, SmcSample> make_smc_dir(const std::filesystem::path& root, int S, int per_file = 3) {
  std::map<std::string, SmcSample> all;
  const std::vector<std::pair<std::string, int>> files = {
      {"train", 0}, {"train", 1}, {"train", 10}, {"dev", 0}, {"test", 0}};
  int material = 0;
  for (const auto& [split, n] : files) {
    std::filesystem::create_directories(root / split);
    const std::string name = "batch_" + split + "_" + std::to_string(n) + ".h5";
    SmcFileWriter writer((root / split / name).string());
    for (int j = per_file - 1; j >= 0; --j) {  // reverse order, gaps in i
      auto s = make_sample(material * 7 + 3 * j, j % 2 == 0 ? 0 : 5, S);
      s.material = "mp-" + std::to_string(material);
      writer.write(s);
      all[split + "/" + name + "/" + s.group_name] = s;
    }
    ++material;
    writer.commit();
  }
  return all;
}

}  // namespace cbednet::io::testing
