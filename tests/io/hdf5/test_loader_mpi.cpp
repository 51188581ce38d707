// DistributedLoader under mpiexec (-n 2 and -n 4): collective reads equal serial reads, each sample exactly once
// per epoch across ranks, the same global order for any rank count, prefetch equal to synchronous reads.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "io/hdf5/convert.hpp"
#include "io/hdf5/epoch_order.hpp"
#include "io/hdf5/loader.hpp"
#include "io/hdf5/sample_source.hpp"
#include "tests/io/hdf5/test_helpers.hpp"

namespace cbednet::io {
namespace {

constexpr int kS = 16;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// Rank 0 writes an SMC directory (15 samples) and its packed conversion (log-scaled) into a shared temp dir.
class LoaderMpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    long long pid = world_rank() == 0 ? static_cast<long long>(::getpid()) : 0;
    MPI_Bcast(&pid, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    root_ = std::filesystem::temp_directory_path() / ("cbednet-loader-" + std::to_string(pid));
    if (world_rank() == 0) {
      std::filesystem::remove_all(root_);
      testing::make_smc_dir(root_ / "smc", kS);
      ConvertOptions c;
      c.in = (root_ / "smc").string();
      c.out = (root_ / "packed.h5").string();
      c.log_scale = true;
      convert_to_packed(c);
      c.out = (root_ / "packed16.h5").string();
      c.dtype = PackedDType::f16;
      convert_to_packed(c);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  static void TearDownTestSuite() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) std::filesystem::remove_all(root_);
  }
  static std::string packed() { return (root_ / "packed.h5").string(); }
  static std::string smc() { return (root_ / "smc").string(); }
  static inline std::filesystem::path root_;
};

// Every rank's indices of one step, in (rank) order: the step's global batch.
std::vector<std::int64_t> gather_indices(const std::vector<std::int64_t>& mine) {
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(world_size()), displs(world_size());
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < world_size(); ++r) {
    displs[r] = total;
    total += counts[r];
  }
  std::vector<std::int64_t> all(total);
  MPI_Allgatherv(mine.data(), n, MPI_INT64_T, all.data(), counts.data(), displs.data(), MPI_INT64_T, MPI_COMM_WORLD);
  return all;
}

// Loaders run one after the other: two loaders reading collectively at the same time could deadlock on the
// (non-thread-safe) HDF5 library lock, see loader.hpp.
std::vector<Batch> read_epoch(DistributedLoader& loader, std::uint64_t epoch) {
  std::vector<Batch> batches;
  loader.start_epoch(epoch);
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

// Every way of reading a packed file: collective H5Dread with independent chunk I/O, with two-phase MPI-IO, and
// direct chunk reads (pread on 3 threads, no HDF5 per read); float32 and float16 files.
TEST_F(LoaderMpi, CollectiveReadsEqualSerialReads) {
  for (const int mode : {0, 1, 2})
    for (const std::string& file : {packed(), (root_ / "packed16.h5").string()}) {
      const bool direct = mode == 2;
      SCOPED_TRACE(mode == 0   ? "collective H5Dread, independent chunk I/O"
                   : mode == 1 ? "collective H5Dread, two-phase MPI-IO"
                               : "direct chunk reads, 3 threads");
      LoaderOptions o;
      o.global_batch = 4;
      o.seed = 11;
      o.prefetch = false;
      o.individual_chunk_io = mode == 0;
      o.io_threads = direct ? 3 : 0;
      DistributedLoader loader(file, MPI_COMM_WORLD, o);
      ASSERT_EQ(loader.collective(), !direct);
      ASSERT_EQ(loader.size(), 15U);
      const auto serial = open_source(file);
      ASSERT_EQ(loader.labels().size(), serial->size());
      for (std::size_t i = 0; i < serial->size(); ++i) EXPECT_EQ(loader.labels()[i], serial->label(i));
      std::vector<float> expected(3 * kS * kS);
      loader.start_epoch(0);
      std::size_t steps = 0;
      while (auto batch = loader.next()) {
        if (!direct) {
          EXPECT_TRUE(loader.last_read_collective()) << "HDF5 fell back to independent I/O";
        }
        ASSERT_EQ(batch->images.shape(), (Shape{static_cast<std::int64_t>(4 / world_size()), 3, kS, kS}));
        for (std::size_t j = 0; j < batch->indices.size(); ++j) {
          serial->read(static_cast<std::size_t>(batch->indices[j]), expected.data());
          const float* got = batch->images.data<float>() + j * expected.size();
          ASSERT_TRUE(std::equal(expected.begin(), expected.end(), got)) << file << " sample " << batch->indices[j];
          EXPECT_EQ(batch->labels.data<std::int32_t>()[j], serial->label(batch->indices[j]) - 1);
        }
        ++steps;
      }
      EXPECT_EQ(steps, 3U);  // 15 samples, batch 4, drop_last
    }
}

// Augmentation is applied by the I/O thread to the pixels as read, keyed by the sample's index: a sample is
// augmented identically on any number of ranks (so every P x D grid trains on the same batches), in the packed
// file's log domain and in an SMC directory's normalised one.
TEST_F(LoaderMpi, AugmentationIsAPureFunctionOfTheSampleAndEpoch) {
  const Augment augment{.exposure_sigma = 0.3, .dose = 5e4, .shift = 2};
  for (const bool packed_file : {true, false}) {
    SCOPED_TRACE(packed_file ? "packed, log-scaled" : "SMC directory, log-scaled and normalised");
    LoaderOptions o;
    o.global_batch = 4;
    o.seed = 7;
    if (!packed_file) o.preprocess = Preprocess{.log_scale = true, .mean = {50, 60, 70}, .stddev = {20, 30, 40}};
    Preprocess domain = o.preprocess;
    domain.log_scale = true;  // the packed file was converted with log scaling
    DistributedLoader plain(packed_file ? packed() : smc(), MPI_COMM_WORLD, o);
    const auto reference = read_epoch(plain, 1);
    o.augment = augment;
    DistributedLoader loader(packed_file ? packed() : smc(), MPI_COMM_WORLD, o);
    const auto batches = read_epoch(loader, 1);
    ASSERT_EQ(batches.size(), reference.size());
    for (std::size_t b = 0; b < batches.size(); ++b) {
      ASSERT_EQ(batches[b].indices, reference[b].indices);
      const auto per = static_cast<std::size_t>(batches[b].images.shape().per_sample());
      for (std::size_t j = 0; j < batches[b].indices.size(); ++j) {
        std::vector<float> expected(reference[b].images.data<float>() + j * per,
                                    reference[b].images.data<float>() + (j + 1) * per);
        augment_sample(augment, domain, 7, 1, batches[b].indices[j], expected.data(), 3, kS);
        const float* got = batches[b].images.data<float>() + j * per;
        ASSERT_TRUE(std::equal(expected.begin(), expected.end(), got)) << "sample " << batches[b].indices[j];
        EXPECT_FALSE(std::equal(expected.begin(), expected.end(), reference[b].images.data<float>() + j * per));
      }
    }
  }
}

// An SMC directory of more files than --shuffle-files: the order is grouped_epoch_permutation's for any rank count,
// and a step reads from the files of at most two groups (here: groups of one file, so at most two files).
TEST_F(LoaderMpi, DirectoriesOfManyFilesAreShuffledWithinGroupsOfFiles) {
  LoaderOptions o;
  o.global_batch = 4;
  o.seed = 5;
  o.shuffle_group_files = 1;
  DistributedLoader loader(smc(), MPI_COMM_WORLD, o);
  EXPECT_NE(loader.describe().find("shuffled within groups of 1 files"), std::string::npos) << loader.describe();
  const auto files = open_source(smc())->sample_files();
  ASSERT_EQ(files.size(), 15U);
  const std::size_t file_count = std::set<std::uint32_t>(files.begin(), files.end()).size();
  ASSERT_GE(file_count, 3U);
  for (std::uint64_t epoch : {0, 3}) {
    std::vector<std::int64_t> global;
    for (const auto& batch : read_epoch(loader, epoch)) {
      const auto step = gather_indices(batch.indices);
      std::set<std::uint32_t> touched;
      for (const auto i : step) touched.insert(files[static_cast<std::size_t>(i)]);
      EXPECT_LE(touched.size(), 2U) << "epoch " << epoch;
      global.insert(global.end(), step.begin(), step.end());
    }
    const auto expected = grouped_epoch_permutation(files, 1, 5, epoch);
    EXPECT_EQ(global, std::vector<std::int64_t>(expected.begin(), expected.begin() + 12)) << "epoch " << epoch;
  }
  o.shuffle_group_files = file_count;  // not more files than a group: the plain permutation, as before
  DistributedLoader whole(smc(), MPI_COMM_WORLD, o);
  std::vector<std::int64_t> global;
  for (const auto& batch : read_epoch(whole, 2)) {
    const auto step = gather_indices(batch.indices);
    global.insert(global.end(), step.begin(), step.end());
  }
  const auto plain = epoch_permutation(15, 5, 2, true);
  EXPECT_EQ(global, std::vector<std::int64_t>(plain.begin(), plain.begin() + 12));
}

TEST_F(LoaderMpi, EachSampleOncePerEpochInTheSameOrderForAnyRankCount) {
  LoaderOptions o;
  o.global_batch = 4;
  o.seed = 2024;
  o.drop_last = false;
  DistributedLoader loader(packed(), MPI_COMM_WORLD, o);
  for (std::uint64_t epoch : {0, 1, 5}) {
    std::vector<std::int64_t> global, single;
    for (const auto& batch : read_epoch(loader, epoch)) {
      const auto step = gather_indices(batch.indices);
      global.insert(global.end(), step.begin(), step.end());
    }
    {
      DistributedLoader alone(packed(), MPI_COMM_SELF, o);  // the same data on one rank
      for (const auto& batch : read_epoch(alone, epoch))
        single.insert(single.end(), batch.indices.begin(), batch.indices.end());
    }
    EXPECT_EQ(global, epoch_permutation(15, 2024, epoch, true));
    EXPECT_EQ(global, single);
    std::vector<std::int64_t> sorted = global;
    std::sort(sorted.begin(), sorted.end());
    for (std::int64_t i = 0; i < 15; ++i) ASSERT_EQ(sorted[i], i) << "epoch " << epoch;
  }
}

TEST_F(LoaderMpi, PrefetchReturnsWhatSynchronousReadsReturn) {
  LoaderOptions o;
  o.global_batch = 4;
  o.seed = 9;
  auto sync_options = o;
  sync_options.prefetch = false;
  for (std::uint64_t epoch : {3, 4}) {
    std::vector<Batch> a, b;
    {
      DistributedLoader prefetching(packed(), MPI_COMM_WORLD, o);
      a = read_epoch(prefetching, epoch);
    }
    {
      DistributedLoader synchronous(packed(), MPI_COMM_WORLD, sync_options);
      b = read_epoch(synchronous, epoch);
    }
    ASSERT_EQ(a.size(), 3U);
    ASSERT_EQ(b.size(), 3U);
    for (std::size_t t = 0; t < a.size(); ++t) {
      EXPECT_EQ(a[t].indices, b[t].indices);
      EXPECT_EQ(a[t].step, t);
      ASSERT_EQ(a[t].images.count(), b[t].images.count());
      EXPECT_TRUE(std::equal(a[t].images.span<float>().begin(), a[t].images.span<float>().end(),
                             b[t].images.span<float>().begin()));
      EXPECT_TRUE(std::equal(a[t].labels.span<std::int32_t>().begin(), a[t].labels.span<std::int32_t>().end(),
                             b[t].labels.span<std::int32_t>().begin()));
    }
  }
}

// Batch buffers are recycled (loader.hpp, BufferPool) only once nobody holds them: a batch kept by the caller
// keeps its pixels while later batches are read, and a dropped one's storage is reused.
TEST_F(LoaderMpi, RecyclesOnlyBatchBuffersNobodyHolds) {
  for (const bool prefetch : {false, true}) {
    SCOPED_TRACE(prefetch ? "prefetch" : "synchronous");
    LoaderOptions o;
    o.global_batch = static_cast<std::size_t>(world_size());  // 15 samples: at least 3 steps
    o.seed = 5;
    o.prefetch = prefetch;
    DistributedLoader loader(packed(), MPI_COMM_WORLD, o);
    const auto serial = open_source(packed());
    std::vector<float> expected(3 * kS * kS);
    for (std::uint64_t epoch : {0, 1}) {
      loader.start_epoch(epoch);
      auto kept = loader.next();
      ASSERT_TRUE(kept.has_value());
      std::vector<const void*> seen;
      std::size_t steps = 1;
      while (auto batch = loader.next()) {
        seen.push_back(batch->images.raw());
        EXPECT_NE(batch->images.raw(), kept->images.raw()) << "a held batch's buffer was handed out again";
        ++steps;
      }
      EXPECT_EQ(steps, loader.steps_per_epoch());
      for (std::size_t j = 0; j < kept->indices.size(); ++j) {
        serial->read(static_cast<std::size_t>(kept->indices[j]), expected.data());
        const float* got = kept->images.data<float>() + j * expected.size();
        ASSERT_TRUE(std::equal(expected.begin(), expected.end(), got)) << "held sample " << kept->indices[j];
      }
      // Synchronous reads: the batches after the held one are dropped before the next is read, so they share one
      // buffer. (With prefetch which buffer comes back depends on thread timing.)
      std::sort(seen.begin(), seen.end());
      if (!prefetch) {
        EXPECT_EQ(std::unique(seen.begin(), seen.end()) - seen.begin(), 1) << "no batch buffer was reused";
      }
    }
  }
}

TEST_F(LoaderMpi, SmcDirectoryLoaderMatchesPackedLoader) {
  LoaderOptions o;
  o.global_batch = 4;
  o.seed = 5;
  auto smc_options = o;
  smc_options.preprocess.log_scale = true;  // what the packed file stores
  std::vector<Batch> a, b;
  std::vector<std::int16_t> labels_smc, labels_packed;
  {
    DistributedLoader from_smc(smc(), MPI_COMM_WORLD, smc_options);
    EXPECT_FALSE(from_smc.collective());
    labels_smc = from_smc.labels();
    a = read_epoch(from_smc, 2);
  }
  {
    DistributedLoader from_packed(packed(), MPI_COMM_WORLD, o);
    labels_packed = from_packed.labels();
    b = read_epoch(from_packed, 2);
  }
  EXPECT_EQ(labels_smc, labels_packed);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t t = 0; t < a.size(); ++t) {
    EXPECT_EQ(a[t].indices, b[t].indices);
    EXPECT_TRUE(std::equal(a[t].images.span<float>().begin(), a[t].images.span<float>().end(),
                           b[t].images.span<float>().begin()));
  }
}

TEST_F(LoaderMpi, AbandoningEpochsAtDifferentPointsOnEachRankNeitherHangsNorMixesEpochs) {
  LoaderOptions o;
  o.global_batch = 4;
  o.seed = 1;
  DistributedLoader loader(packed(), MPI_COMM_WORLD, o);
  loader.start_epoch(0);
  for (int k = 0; k <= world_rank() % 3; ++k) ASSERT_TRUE(loader.next().has_value());
  loader.start_epoch(7, 2);  // abandon epoch 0 early; read only 2 steps of epoch 7
  std::vector<std::int64_t> global;
  while (auto batch = loader.next()) {
    EXPECT_EQ(batch->epoch, 7U);
    const auto step = gather_indices(batch->indices);
    global.insert(global.end(), step.begin(), step.end());
  }
  const auto perm = epoch_permutation(15, 1, 7, true);
  EXPECT_EQ(global, std::vector<std::int64_t>(perm.begin(), perm.begin() + 8));
  loader.start_epoch(8);
  ASSERT_TRUE(loader.next().has_value());  // destroyed mid-epoch: must not hang
}

TEST_F(LoaderMpi, SkipBadDropsAndCountsNonFiniteSamples) {
  // A private directory per rank (independent reads): one sample has a NaN pixel.
  const auto dir = root_ / ("bad-" + std::to_string(world_rank()));
  std::filesystem::create_directories(dir);
  {
    SmcFileWriter w((dir / "batch_train_0.h5").string());
    for (int i = 0; i < 4; ++i) {
      auto s = testing::make_sample(i, 0, kS);
      if (i == 2) s.cbed_stack[7] = std::nanf("");
      w.write(s);
    }
    w.commit();
  }
  LoaderOptions o;
  o.global_batch = 4;
  o.shuffle = false;
  o.prefetch = false;
  {
    DistributedLoader strict(dir.string(), MPI_COMM_SELF, o);
    strict.start_epoch(0);
    EXPECT_THROW(strict.next(), IoError);
  }
  o.skip_bad = true;
  DistributedLoader lenient(dir.string(), MPI_COMM_SELF, o);
  lenient.start_epoch(0);
  auto batch = lenient.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->indices, (std::vector<std::int64_t>{0, 1, 3}));
  EXPECT_EQ(batch->images.shape().n, 3);
  EXPECT_EQ(batch->skipped, 1U);
  EXPECT_EQ(lenient.bad_samples(), 1U);
}

TEST_F(LoaderMpi, RejectsABatchNotDivisibleByTheRanks) {
  LoaderOptions o;
  o.global_batch = static_cast<std::size_t>(world_size()) + 1;
  EXPECT_THROW(DistributedLoader(packed(), MPI_COMM_WORLD, o), InvalidArgument);
}

}  // namespace
}  // namespace cbednet::io
