// SMC directory sources, preprocessing, SMC -> packed conversion, inspect summaries, float16, epoch order.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "io/hdf5/convert.hpp"
#include "io/hdf5/epoch_order.hpp"
#include "io/hdf5/half.hpp"
#include "io/hdf5/packed_file.hpp"
#include "io/hdf5/sample_source.hpp"
#include "io/preprocess.hpp"
#include "tests/io/hdf5/test_helpers.hpp"

namespace cbednet::io {
namespace {

using testing::make_smc_dir;
using testing::TempDir;

constexpr int kS = 16;

TEST(SmcDirectorySource, IndexesSplitsInFileOrderAndReadsRawPixels) {
  TempDir dir("src-dir");
  const auto written = make_smc_dir(dir.path(), kS);
  const auto all = open_source(dir.path().string(), SourceOptions{.split = "all", .preprocess = {}, .skip_bad = false});
  ASSERT_EQ(all->size(), written.size());
  EXPECT_EQ(all->sample_shape(), (Shape{1, 3, kS, kS}));
  const auto train =
      open_source(dir.path().string(), SourceOptions{.split = "train", .preprocess = {}, .skip_bad = false});
  ASSERT_EQ(train->size(), 9U);
  // Files in batch-number order (0, 1, 10, not 0, 1, 10 lexicographic by accident: check the first of file 10).
  const auto files = list_smc_files(dir.path().string(), "train");
  ASSERT_EQ(files.size(), 3U);
  EXPECT_NE(files[2].first.find("batch_train_10.h5"), std::string::npos);
  std::vector<float> pixels(3 * kS * kS);
  std::size_t i = 0;
  for (const auto& [file, split] : list_smc_files(dir.path().string(), "all")) {
    SmcFileReader reader(file);
    for (std::size_t g = 0; g < reader.size(); ++g, ++i) {
      const std::string rel = std::string(to_string(split)) + "/" + std::filesystem::path(file).filename().string() +
                              "/" + reader.group_names()[g];
      const SmcSample& expected = written.at(rel);
      EXPECT_EQ(all->label(i), expected.space_group) << rel;
      EXPECT_EQ(all->material(i), *expected.material) << rel;
      EXPECT_EQ(all->split(i), split);
      all->read(i, pixels.data());
      EXPECT_EQ(pixels, expected.cbed_stack) << rel;
    }
  }
  EXPECT_EQ(i, written.size());
}

// Every file stays open where the descriptor limit allows; a low soft limit is raised towards the hard one.
TEST(SmcDirectorySource, KeepsEveryFileOpenWithinTheDescriptorLimit) {
  EXPECT_EQ(open_file_budget(0), 8U);
  EXPECT_EQ(open_file_budget(5), 8U);
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  if (before.rlim_max != RLIM_INFINITY && before.rlim_max < 3000) GTEST_SKIP() << "hard descriptor limit below 3000";
  rlimit low = before;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(open_file_budget(1138), 1138U);  // the release's files: the soft limit was raised
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_GE(after.rlim_cur, 1138U + 256U);
  EXPECT_LT(open_file_budget(std::size_t{1} << 40), std::size_t{1} << 40);  // never more than the limit allows
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &before), 0);
}

TEST(SmcDirectorySource, FlatDirectoryAndSingleFile) {
  TempDir dir("src-flat");
  testing::make_smc_dir(dir.path() / "nested", kS);
  std::filesystem::copy_file(dir.path() / "nested/train/batch_train_0.h5", dir.path() / "batch_train_0.h5");
  std::filesystem::copy_file(dir.path() / "nested/dev/batch_dev_0.h5", dir.path() / "batch_dev_0.h5");
  EXPECT_EQ(
      open_source(dir.path().string(), SourceOptions{.split = "all", .preprocess = {}, .skip_bad = false})->size(), 6U);
  EXPECT_EQ(
      open_source(dir.path().string(), SourceOptions{.split = "dev", .preprocess = {}, .skip_bad = false})->size(), 3U);
  EXPECT_EQ(open_source(dir.file("batch_train_0.h5"))->size(), 3U);
  EXPECT_THROW(open_source(dir.path().string(), SourceOptions{.split = "bogus", .preprocess = {}, .skip_bad = false}),
               InvalidArgument);
}

TEST(SmcDirectorySource, EmptyAndMissingDirectories) {
  TempDir dir("src-empty");
  try {
    open_source(dir.path().string());
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("directory " + dir.path().string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(open_source(dir.file("missing")), IoError);
  std::filesystem::create_directories(dir.path() / "train");
  EXPECT_THROW(open_source(dir.path().string(), SourceOptions{.split = "train", .preprocess = {}, .skip_bad = false}),
               IoError);
}

TEST(SmcDirectorySource, SkipBadCountsInsteadOfFailing) {
  TempDir dir("src-skip");
  make_smc_dir(dir.path(), kS);
  std::ofstream(dir.path() / "train" / "batch_train_5.h5") << "garbage";
  EXPECT_THROW(open_source(dir.path().string(), SourceOptions{.split = "train", .preprocess = {}, .skip_bad = false}),
               IoError);
  const auto src =
      open_source(dir.path().string(), SourceOptions{.split = "train", .preprocess = {}, .skip_bad = true});
  EXPECT_EQ(src->size(), 9U);
  EXPECT_EQ(src->skipped(), 1U);
}

TEST(Preprocess, LogScaleAndAreaDownsampleMatchADirectComputation) {
  const auto s = testing::make_sample(4, 2, 8);
  Preprocess p;
  p.log_scale = true;
  p.downsample = 2;
  std::vector<float> out(3 * 4 * 4);
  preprocess_stack(p, s.cbed_stack.data(), 8, 0, out.data());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        double sum = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) {
            const double v = s.cbed_stack[(c * 8 + 2 * y + dy) * 8 + 2 * x + dx];
            sum += 10.0 * (std::max(v > 0 ? std::log(v) : -1e300, -17.0) + 17.0);
          }
        EXPECT_NEAR(out[(c * 4 + y) * 4 + x], sum / 4, 1e-3) << c << "," << y << "," << x;
      }
  // A zero pixel maps to exactly 0; the largest float16 value to 10*(ln 65504 + 17).
  const float special[3] = {0.0F, 65504.0F, 1e-30F};
  float mapped[3];
  Preprocess q;
  q.log_scale = true;
  transform_pixels(q, special, 3, 1, mapped);
  EXPECT_EQ(mapped[0], 0.0F);
  EXPECT_NEAR(mapped[1], 10.0 * (std::log(65504.0) + 17.0), 1e-3);
  EXPECT_EQ(mapped[2], 0.0F);
}

TEST(Preprocess, SeparateViewsNormalisationAndDescribeRoundTrip) {
  const auto s = testing::make_sample(1, 1, 4);
  Preprocess p;
  p.separate_views = true;
  p.mean = {2.0F};
  p.stddev = {4.0F};
  p.validate(4);
  std::vector<float> out(16);
  preprocess_stack(p, s.cbed_stack.data(), 4, 2, out.data());
  for (int j = 0; j < 16; ++j) EXPECT_FLOAT_EQ(out[j], (s.cbed_stack[32 + j] - 2.0F) / 4.0F);
  const Preprocess r = Preprocess::parse(p.describe());
  EXPECT_EQ(r.describe(), p.describe());
  EXPECT_TRUE(r.separate_views);
  EXPECT_EQ(r.mean, p.mean);
  Preprocess bad;
  bad.downsample = 3;
  EXPECT_THROW(bad.validate(12), InvalidArgument);
  bad.downsample = 4;
  EXPECT_THROW(bad.validate(18), InvalidArgument);
  // A recorded preprocessing (packed file attribute, ONNX metadata) with a downsampling factor that is not a
  // whole 1, 2 or 4 is refused, naming it, not read as 0 or as its leading digits.
  EXPECT_EQ(Preprocess::parse("log_scale=0;downsample=2").downsample, 2);
  for (const char* text : {"downsample=abc", "downsample=2x", "downsample=", "downsample=3"}) {
    try {
      (void)Preprocess::parse(text);
      ADD_FAILURE() << text << ": accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("downsample"), std::string::npos) << e.what();
    }
  }
}

ConvertOptions convert_options(const TempDir& dir, const std::string& out) {
  ConvertOptions c;
  c.in = (dir.path() / "smc").string();
  c.out = dir.file(out);
  c.creator = "test";
  return c;
}

TEST(Convert, Float32PackedReadsEqualSmcReadsWithTheSamePreprocessing) {
  TempDir dir("conv32");
  make_smc_dir(dir.path() / "smc", kS);
  auto c = convert_options(dir, "packed.h5");
  c.log_scale = true;
  c.size = kS / 2;
  const auto report = convert_to_packed(c);
  EXPECT_EQ(report.samples, 15U);
  EXPECT_EQ(report.sample, (Shape{1, 3, kS / 2, kS / 2}));
  ASSERT_TRUE(is_packed_file(c.out));
  Preprocess p;
  p.log_scale = true;
  p.downsample = 2;
  const auto smc = open_source(c.in, SourceOptions{.split = "all", .preprocess = p, .skip_bad = false});
  const auto packed = open_source(c.out);
  ASSERT_EQ(packed->size(), smc->size());
  std::vector<float> a(3 * 8 * 8), b(3 * 8 * 8);
  for (std::size_t i = 0; i < smc->size(); ++i) {
    smc->read(i, a.data());
    packed->read(i, b.data());
    EXPECT_EQ(a, b) << "sample " << i;
    EXPECT_EQ(packed->label(i), smc->label(i));
    EXPECT_EQ(packed->material(i), smc->material(i));
    EXPECT_EQ(packed->split(i), smc->split(i));
  }
  // Split selection on the packed file keeps file order.
  const auto dev = open_source(c.out, SourceOptions{.split = "dev", .preprocess = {}, .skip_bad = false});
  ASSERT_EQ(dev->size(), 3U);
  EXPECT_EQ(dev->label(0), smc->label(9));
  const auto summary = summarise(c.out);
  EXPECT_EQ(summary.kind, "packed");
  EXPECT_EQ(summary.preprocessing, p.describe());
  EXPECT_EQ(summary.split_counts, (std::array<std::size_t, 4>{9, 3, 3, 0}));
}

TEST(Convert, Float16WithinHalfPrecisionAndSeparateViews) {
  TempDir dir("conv16");
  make_smc_dir(dir.path() / "smc", kS);
  auto c = convert_options(dir, "packed16.h5");
  c.dtype = PackedDType::f16;
  c.log_scale = true;
  c.separate_views = true;
  c.split = "train";
  const auto report = convert_to_packed(c);
  EXPECT_EQ(report.samples, 27U);  // 9 train samples x 3 views
  EXPECT_EQ(report.sample, (Shape{1, 1, kS, kS}));
  Preprocess p;
  p.log_scale = true;
  p.separate_views = true;
  const auto smc = open_source(c.in, SourceOptions{.split = "train", .preprocess = p, .skip_bad = false});
  const auto packed = open_source(c.out);
  ASSERT_EQ(packed->size(), 27U);
  std::vector<float> a(kS * kS), b(kS * kS);
  for (std::size_t i = 0; i < smc->size(); ++i) {
    smc->read(i, a.data());
    packed->read(i, b.data());
    for (int j = 0; j < kS * kS; ++j) EXPECT_NEAR(b[j], a[j], std::abs(a[j]) * 0x1p-11 + 1e-7) << i << "," << j;
    EXPECT_EQ(packed->label(i), smc->label(i));
  }
  EXPECT_EQ(summarise(c.out).dtype, "float16");
}

TEST(Convert, FailureLeavesNoPartialOutput) {
  TempDir dir("convfail");
  make_smc_dir(dir.path() / "smc", kS);
  {  // a sample with a NaN pixel in the last file converted
    auto s = testing::make_sample(900, 0, kS);
    s.cbed_stack[5] = std::nanf("");
    SmcFileWriter w((dir.path() / "smc/test/batch_test_1.h5").string());
    w.write(testing::make_sample(901, 0, kS));
    w.write(s);
    w.commit();
  }
  auto c = convert_options(dir, "out.h5");
  try {
    convert_to_packed(c);
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("batch_test_1.h5, group sample_900_0"), std::string::npos) << e.what();
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename(), "smc") << "left behind: " << e.path();
  c.skip_bad = true;
  const auto report = convert_to_packed(c);
  EXPECT_EQ(report.samples, 16U);
  EXPECT_EQ(report.skipped, 1U);
  c.size = 5;
  EXPECT_THROW(convert_to_packed(c), InvalidArgument);
}

TEST(Inspect, CountsBySpaceGroupAndCrystalSystem) {
  TempDir dir("inspect");
  const auto written = make_smc_dir(dir.path(), kS);
  const auto s = summarise(dir.path().string());
  EXPECT_EQ(s.kind, "smc-directory");
  EXPECT_EQ(s.samples, written.size());
  std::map<int, std::size_t> by_sg;
  std::array<std::size_t, 8> by_system{};
  for (const auto& [key, sample] : written) {
    ++by_sg[sample.space_group];
    const int sg = sample.space_group;
    ++by_system[sg <= 2 ? 1 : sg <= 15 ? 2 : sg <= 74 ? 3 : sg <= 142 ? 4 : sg <= 167 ? 5 : sg <= 194 ? 6 : 7];
  }
  EXPECT_EQ(s.by_space_group, by_sg);
  EXPECT_EQ(s.by_system, by_system);
  EXPECT_EQ(s.split_counts, (std::array<std::size_t, 4>{9, 3, 3, 0}));
  EXPECT_EQ(s.materials, 5U);
  const std::string json = to_json(s);
  EXPECT_NE(json.find("\"samples\": 15"), std::string::npos) << json;
  EXPECT_NE(json.find("\"cubic\": " + std::to_string(by_system[7])), std::string::npos) << json;
  EXPECT_EQ(crystal_system(2), 1);
  EXPECT_EQ(crystal_system(3), 2);
  EXPECT_EQ(crystal_system(74), 3);
  EXPECT_EQ(crystal_system(75), 4);
  EXPECT_EQ(crystal_system(167), 5);
  EXPECT_EQ(crystal_system(168), 6);
  EXPECT_EQ(crystal_system(195), 7);
}

TEST(Half, EveryFiniteHalfRoundTripsAndRoundingIsToNearestEven) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00U) == 0x7C00U) continue;  // inf / nan
    const float f = half_to_float(static_cast<std::uint16_t>(h));
    ASSERT_EQ(float_to_half(f), h) << std::hex << h;
  }
  EXPECT_EQ(half_to_float(0x3C00), 1.0F);
  EXPECT_EQ(half_to_float(0x0001), 0x1p-24F);
  EXPECT_EQ(float_to_half(1.0F + 0x1p-11F), 0x3C00);  // tie -> even
  EXPECT_EQ(float_to_half(1.0F + 3 * 0x1p-11F), 0x3C02);
  EXPECT_EQ(float_to_half(70000.0F), 0x7C00);
}

// 40 files of 1..9 samples (interleaved ids, as a directory's files need not be contiguous), groups of 6 files:
// a permutation; each group's samples occupy one contiguous range, groups in order; samples of a group's files mixed;
// deterministic per (seed, epoch).
TEST(EpochOrder, GroupedPermutationKeepsEachGroupOfFilesTogether) {
  std::vector<std::uint32_t> file_of;
  for (std::uint32_t f = 0; f < 40; ++f)
    for (std::uint32_t k = 0; k < 1 + f % 9; ++k) file_of.push_back(1000 + (f * 7) % 40);
  const std::size_t n = file_of.size(), G = 6;
  const auto perm = grouped_epoch_permutation(file_of, G, 7, 3);
  std::vector<std::int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], static_cast<std::int64_t>(i));
  // The files in the order their first sample appears; group k is files [kG, (k+1)G) of that order.
  std::vector<std::uint32_t> order;
  for (const auto i : perm)
    if (std::find(order.begin(), order.end(), file_of[static_cast<std::size_t>(i)]) == order.end())
      order.push_back(file_of[static_cast<std::size_t>(i)]);
  ASSERT_EQ(order.size(), 40U);
  std::size_t position = 0;
  bool mixed = false;
  for (std::size_t first = 0; first < order.size(); first += G) {
    const std::set<std::uint32_t> group(order.begin() + static_cast<std::ptrdiff_t>(first),
                                        order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), first + G)));
    std::size_t count = 0;
    for (const auto f : file_of) count += group.count(f);
    for (std::size_t p = position; p < position + count; ++p)
      ASSERT_EQ(group.count(file_of[static_cast<std::size_t>(perm[p])]), 1U)
          << "position " << p << " group " << first / G;
    for (std::size_t p = position + 1; p < position + count; ++p)
      mixed |= file_of[static_cast<std::size_t>(perm[p])] != file_of[static_cast<std::size_t>(perm[p - 1])] &&
               std::count(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(first + 1),
                          file_of[static_cast<std::size_t>(perm[p])]) == 1;
    position += count;
  }
  EXPECT_EQ(position, n);
  EXPECT_TRUE(mixed) << "the samples of a group's files were not shuffled together";
  EXPECT_EQ(perm, grouped_epoch_permutation(file_of, G, 7, 3));
  EXPECT_NE(perm, grouped_epoch_permutation(file_of, G, 7, 4));
  EXPECT_NE(perm, grouped_epoch_permutation(file_of, G, 8, 3));
  EXPECT_THROW(grouped_epoch_permutation(file_of, 0, 7, 3), InvalidArgument);
}

TEST(EpochOrder, PermutationDependsOnSeedAndEpochOnly) {
  const auto a = epoch_permutation(1000, 7, 3, true);
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(a, epoch_permutation(1000, 7, 3, true));
  EXPECT_NE(a, epoch_permutation(1000, 7, 4, true));
  EXPECT_NE(a, epoch_permutation(1000, 8, 3, true));
  const auto identity = epoch_permutation(10, 7, 3, false);
  for (std::int64_t i = 0; i < 10; ++i) EXPECT_EQ(identity[i], i);
  // Shares: contiguous, disjoint, covering each step's batch.
  for (int D : {1, 2, 4}) {
    std::size_t expected = 0;
    for (std::size_t t = 0; t < steps_per_epoch(10, 4, false); ++t)
      for (int d = 0; d < D; ++d) {
        const auto [b, e] = replica_share(10, 4, t, d, D);
        EXPECT_EQ(b, expected);
        expected = e;
      }
    EXPECT_EQ(expected, 10U);
  }
  EXPECT_EQ(steps_per_epoch(10, 4, true), 2U);
  EXPECT_EQ(steps_per_epoch(10, 4, false), 3U);
}

}  // namespace
}  // namespace cbednet::io
