// The batch rule (split_batch), the fill of shares short of bad samples, and the in-memory batch source.
#include <gtest/gtest.h>

#include "core/batch_split.hpp"
#include "core/error.hpp"
#include "core/train/memory_batch_source.hpp"
#include "core/train/trainer.hpp"

using namespace cbednet;

namespace {

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

Batch numbered_batch(std::int64_t n, std::int64_t first_index) {
  Batch b;
  b.images = Tensor({n, 2, 1, 1}, DType::f32);
  b.labels = Tensor({n, 1, 1, 1}, DType::i32);
  for (std::int64_t i = 0; i < n; ++i) {
    b.images.data<float>()[2 * i] = static_cast<float>(first_index + i);
    b.images.data<float>()[2 * i + 1] = -static_cast<float>(first_index + i);
    b.labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(10 + first_index + i);
    b.indices.push_back(first_index + i);
  }
  return b;
}

}  // namespace

TEST(BatchSplit, CutsTheGlobalBatch) {
  const BatchSplit s = split_batch(64, 4, 4, 2);
  EXPECT_EQ(s.global, 64);
  EXPECT_EQ(s.replicas, 4);
  EXPECT_EQ(s.share, 16);
  EXPECT_EQ(s.micro, 4);
  EXPECT_EQ(s.micro_batches, 4);
  const BatchSplit whole = split_batch(12, 3, 0);
  EXPECT_EQ(whole.micro, 4);
  EXPECT_EQ(whole.micro_batches, 1);
}

TEST(BatchSplit, RejectsWithTheOptionNamed) {
  EXPECT_NE(error_of([] { split_batch(3, 4, 0, 2); })
                .find("--batch 3 is smaller than the 4 data-parallel replicas "
                      "of --grid 2x4"),
            std::string::npos);
  EXPECT_NE(error_of([] { split_batch(10, 4, 0); }).find("--batch 10 must be a positive multiple of the 4"),
            std::string::npos);
  EXPECT_NE(error_of([] { split_batch(16, 2, 3); })
                .find("--micro-batch-size 3 does not divide a replica's share of "
                      "the batch (8 = 16 / 2)"),
            std::string::npos);
  EXPECT_NE(error_of([] { split_batch(16, 2, -1); }).find("--micro-batch-size"), std::string::npos);
}

TEST(FillShortShare, RepeatsGoodSamplesInOrder) {
  Batch b = numbered_batch(3, 7);
  EXPECT_EQ(fill_short_share(b, 5), 2);
  ASSERT_EQ(b.images.shape(), (Shape{5, 2, 1, 1}));
  const std::vector<std::int64_t> expect{7, 8, 9, 7, 8};
  EXPECT_EQ(b.indices, expect);
  for (std::int64_t i = 0; i < 5; ++i) {
    const auto want = static_cast<float>(expect[static_cast<std::size_t>(i)]);
    EXPECT_EQ(b.images.data<float>()[2 * i], want);
    EXPECT_EQ(b.images.data<float>()[2 * i + 1], -want);
    EXPECT_EQ(b.labels.data<std::int32_t>()[i], 10 + expect[static_cast<std::size_t>(i)]);
  }
  Batch full = numbered_batch(4, 0);
  EXPECT_EQ(fill_short_share(full, 4), 0);
  EXPECT_EQ(full.images.shape().n, 4);
}

TEST(FillShortShare, AnAllBadShareIsAnError) {
  Batch empty = numbered_batch(0, 0);
  empty.step = 6;
  EXPECT_NE(error_of([&] { fill_short_share(empty, 4); }).find("every sample of this rank's share of step 7"),
            std::string::npos);
}

TEST(MemoryBatchSource, SharesAndBadSamples) {
  Batch all = numbered_batch(10, 0);  // 10 samples, batch 4: 2 steps, the last 2 samples dropped
  MemoryBatchSource replica1(all.images.view(), all.labels.view(), 4, 1, 2, {6});
  EXPECT_EQ(replica1.steps_per_epoch(), 2U);
  EXPECT_EQ(replica1.sample_shape(), (Shape{1, 2, 1, 1}));
  replica1.start_epoch(3);
  auto first = replica1.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->indices, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(first->epoch, 3U);
  auto second = replica1.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->indices, (std::vector<std::int64_t>{7}));  // sample 6 is bad
  EXPECT_EQ(second->skipped, 1U);
  EXPECT_EQ(second->labels.data<std::int32_t>()[0], 17);
  EXPECT_FALSE(replica1.next());
  EXPECT_THROW(MemoryBatchSource(all.images.view(), all.labels.view(), 5, 0, 2), InvalidArgument);
}
