// The simulator end to end: deterministic materials, the SMC-2019 layout written and read back, split by
// material, and the same samples whatever the number of ranks and threads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/error.hpp"
#include "io/hdf5/smc_file.hpp"
#include "io/sim/simulator.hpp"
#include "io/sim/space_group_table.hpp"

namespace cbednet::io::sim {
namespace {

namespace fs = std::filesystem;

SimulationOptions small_options() {
  SimulationOptions o;
  o.seed = 42;
  o.cbed.size = 32;
  o.samples_per_material = 2;
  o.space_groups = parse_space_group_list("2,14,62,139,166,194,225");
  return o;
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("cbednet_sim_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(SimSimulate, OptionParsing) {
  EXPECT_EQ(parse_space_group_list("all").size(), 230u);
  EXPECT_EQ(parse_space_group_list("1-3,225"), (std::vector<int>{1, 2, 3, 225}));
  EXPECT_THROW(parse_space_group_list("0-3"), InvalidArgument);
  EXPECT_THROW(parse_space_group_list("12,x"), InvalidArgument);
  EXPECT_THROW(parse_space_group_list("231"), InvalidArgument);
  const auto f = parse_split_fractions("8,1,1");
  EXPECT_DOUBLE_EQ(f[0], 0.8);
  EXPECT_THROW(parse_split_fractions("0.8,0.2"), InvalidArgument);
  EXPECT_THROW(parse_split_fractions("0.8,-0.1,0.3"), InvalidArgument);
}

TEST(SimSimulate, MaterialsAreDeterministic) {
  const auto o = small_options();
  const auto a = simulate_material(o, 3), b = simulate_material(o, 3);
  ASSERT_EQ(a.size(), 2u);
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].group_name, "sample_3_" + std::to_string(k));
    EXPECT_EQ(a[k].space_group, material_space_group(o, 3));
    EXPECT_EQ(a[k].cbed_stack, b[k].cbed_stack);  // bit-identical floats
    EXPECT_EQ(a[k].cbed_stack.size(), 3u * 32 * 32);
    EXPECT_EQ(*a[k].energy_keV, 100 + 10 * static_cast<int>(k));
  }
  EXPECT_NE(a[0].cbed_stack, a[1].cbed_stack);  // energies differ
  auto other = o;
  other.seed = 43;
  EXPECT_NE(simulate_material(other, 3)[0].cbed_stack, a[0].cbed_stack);
}

TEST(SimSimulate, SplitsFollowFractions) {
  SimulationOptions o;
  int counts[3] = {0, 0, 0};
  for (int m = 0; m < 2000; ++m) ++counts[static_cast<int>(material_split(o, m))];
  EXPECT_NEAR(counts[0], 1600, 80);
  EXPECT_NEAR(counts[1], 200, 45);
  EXPECT_NEAR(counts[2], 200, 45);
  o.split_fractions = {0, 1, 0};
  EXPECT_EQ(material_split(o, 5), Split::dev);
}

std::map<std::string, SmcSample> read_all(const fs::path& dir, std::map<std::string, std::string>* split_of) {
  std::map<std::string, SmcSample> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string split = entry.path().parent_path().filename().string();
    const std::string name = entry.path().filename().string();
    EXPECT_EQ(name.rfind("batch_" + split + "_", 0), 0u) << name;
    EXPECT_EQ(entry.path().extension(), ".h5") << name;
    SmcFileReader reader(entry.path().string());
    for (std::size_t i = 0; i < reader.size(); ++i) {
      SmcSample s = reader.read(i);
      const std::string material = *s.material;
      if (split_of != nullptr) {
        auto [it, inserted] = split_of->emplace(material, split);
        EXPECT_EQ(it->second, split) << "material " << material << " appears in two splits";
        (void)inserted;
      }
      out.emplace(s.group_name, std::move(s));
    }
  }
  return out;
}

TEST(SimSimulate, WritesTheSmcLayoutIndependentlyOfRanksAndThreads) {
  auto o = small_options();
  o.split_fractions = {0.5, 0.25, 0.25};
  const int n = 8;
  TempDir one("one"), two("two");
  const auto summary = simulate_to_directory(o, one.path.string(), n, 0, 1, 1);
  std::int64_t samples = 0;
  for (const auto v : summary.samples) samples += v;
  EXPECT_EQ(samples, n * o.samples_per_material);
  // Two "ranks" (run one after the other here) with two threads each.
  simulate_to_directory(o, two.path.string(), n, 0, 2, 2);
  simulate_to_directory(o, two.path.string(), n, 1, 2, 2);
  EXPECT_TRUE(fs::exists(two.path / "train" / "batch_train_1.h5") || fs::exists(two.path / "dev" / "batch_dev_1.h5") ||
              fs::exists(two.path / "test" / "batch_test_1.h5"));

  std::map<std::string, std::string> split_one, split_two;
  const auto a = read_all(one.path, &split_one);
  const auto b = read_all(two.path, &split_two);
  ASSERT_EQ(a.size(), static_cast<std::size_t>(n * o.samples_per_material));
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(split_one, split_two);
  std::set<std::string> splits;
  for (const auto& [material, split] : split_one) splits.insert(split);
  EXPECT_GE(splits.size(), 2u);
  for (const auto& [name, s] : a) {
    const auto it = b.find(name);
    ASSERT_NE(it, b.end()) << name;
    const SmcSample& t = it->second;
    EXPECT_EQ(s.cbed_stack, t.cbed_stack) << name;
    EXPECT_EQ(s.space_group, t.space_group);
    EXPECT_EQ(s.size, 32);
    EXPECT_EQ(*s.formula, *t.formula);
    EXPECT_EQ(*s.z_dirs, *t.z_dirs);
    // Attributes survived the file and agree with a fresh simulation.
    const std::int64_t m = std::stoll(name.substr(7, name.find('_', 7) - 7));
    const int k = std::stoi(name.substr(name.rfind('_') + 1));
    const auto fresh = simulate_material(o, m)[static_cast<std::size_t>(k)];
    EXPECT_EQ(s.cbed_stack, fresh.cbed_stack) << name;
    EXPECT_EQ(s.space_group, material_space_group(o, m));
    EXPECT_EQ(*s.energy_keV, *fresh.energy_keV);
    EXPECT_EQ(*s.abc_angstrom, *fresh.abc_angstrom);
    EXPECT_EQ(*s.semi_angles_rad, *fresh.semi_angles_rad);
    EXPECT_EQ(*s.d_hkls_angstrom, *fresh.d_hkls_angstrom);
    EXPECT_EQ(*s.angles_degree, *fresh.angles_degree);
    EXPECT_EQ(split_one.at(*s.material), split_name(material_split(o, m)));
    for (const float v : s.cbed_stack) ASSERT_GE(v, 0.0f);
  }
}

}  // namespace
}  // namespace cbednet::io::sim
