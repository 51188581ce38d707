// TensorBoard event files: the CRC-32C and TFRecord framing against known values and a tiny reader, and a written
// file decoded back with the generated protobuf classes (tests/app/tensorboard.sh reads one with TensorBoard).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/train/event_file.hpp"
#include "core/train/tensorboard_event.pb.h"
#include "tests/train/event_records.hpp"

using namespace cbednet;
using namespace cbednet::test;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system's temporary one, removed at the end of the test.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("cbednet_event_file_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST(EventFile, Crc32cMatchesTheCastagnoliCheckValueAndTheTfRecordMask) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // TensorBoard's own masked_crc32c gives these (tensorboard.compat.tensorflow_stub.pywrap_tensorflow).
  EXPECT_EQ(masked_crc32c("123456789"), 0xC78AB0E5u);
  EXPECT_EQ(masked_crc32c("abc"), 0x21F1576Eu);
}

TEST(EventFile, ARecordIsLengthItsCrcDataAndItsCrc) {
  const std::string record = tfrecord_frame("abc");
  ASSERT_EQ(record.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(read_little_endian(std::string_view(record).substr(0, 8)), 3u);
  EXPECT_EQ(read_little_endian(std::string_view(record).substr(8, 4)), 0x0E4999B0u);  // TensorBoard's value
  EXPECT_EQ(record.substr(12, 3), "abc");
  EXPECT_EQ(read_little_endian(std::string_view(record).substr(15, 4)), 0x21F1576Eu);
  const auto records = read_records(record + tfrecord_frame("") + tfrecord_frame(std::string(300, 'x')));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], "abc");
  EXPECT_EQ(records[1], "");
  EXPECT_EQ(records[2], std::string(300, 'x'));
}

TEST(EventFile, AWrittenFileDecodesToTheScalarsWithTheirSteps) {
  const TempDir dir;
  fs::path path;
  {
    EventFileWriter writer(dir.path / "tensorboard");  // creates the directory
    path = writer.path();
    EXPECT_EQ(path.parent_path(), dir.path / "tensorboard");
    EXPECT_EQ(path.filename().string().rfind("events.out.tfevents.", 0), 0u) << path;
    writer.write_scalars(5, {{"train/loss", 1.25f}, {"lr", 0.1f}});
    writer.write_scalars(8, {{"epoch/val_top1", 0.5f}, {"train/top1", 0.0f}});
    // Until flushed, only the whole file_version record is in the file.
    EXPECT_EQ(read_records(file_bytes(path)).size(), 1u);
    writer.flush();
    EXPECT_EQ(read_records(file_bytes(path)).size(), 3u);
    writer.write_scalars(9, {{"loss_scale", 65536.0f}});
  }  // the destructor flushes the last record
  const auto records = read_records(file_bytes(path));
  ASSERT_EQ(records.size(), 4u);
  tensorboard::Event event;
  ASSERT_TRUE(event.ParseFromString(records[0]));
  EXPECT_EQ(event.file_version(), "brain.Event:2");
  EXPECT_GT(event.wall_time(), 1.6e9);  // seconds since 1970, not some other clock

  const std::vector<std::tuple<std::int64_t, std::string, float>> expected = {{5, "train/loss", 1.25f},
                                                                              {5, "lr", 0.1f},
                                                                              {8, "epoch/val_top1", 0.5f},
                                                                              {8, "train/top1", 0.0f},
                                                                              {9, "loss_scale", 65536.0f}};
  std::size_t next = 0;
  for (std::size_t r = 1; r < records.size(); ++r) {
    ASSERT_TRUE(event.ParseFromString(records[r]));
    ASSERT_TRUE(event.has_summary());
    for (const auto& value : event.summary().value()) {
      ASSERT_LT(next, expected.size());
      EXPECT_EQ(event.step(), std::get<0>(expected[next]));
      EXPECT_EQ(value.tag(), std::get<1>(expected[next]));
      EXPECT_TRUE(value.has_simple_value()) << "a value of 0 must be on the wire too: " << value.tag();
      EXPECT_EQ(value.simple_value(), std::get<2>(expected[next]));
      ++next;
    }
  }
  EXPECT_EQ(next, expected.size());
}

TEST(EventFile, TwoWritersInOneDirectoryWriteTwoFiles) {
  const TempDir dir;
  const EventFileWriter first(dir.path), second(dir.path);  // most likely within the same second
  EXPECT_NE(first.path(), second.path());
  EXPECT_TRUE(fs::exists(first.path()));
  EXPECT_TRUE(fs::exists(second.path()));
}

TEST(EventFile, AnUnusableDirectoryIsAnErrorNamingIt) {
  const TempDir dir;
  fs::create_directories(dir.path);
  std::ofstream(dir.path / "a_file") << "not a directory";
  const fs::path bad = dir.path / "a_file" / "tensorboard";
  try {
    EventFileWriter writer(bad);
    FAIL() << "no error for " << bad;
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
  }
}

TEST(EventFile, ASessionStartMarksTheStepFromWhichARunRestarts) {
  const TempDir dir;
  fs::path path;
  {
    EventFileWriter writer(dir.path);
    path = writer.path();
    writer.write_session_start(13);
  }
  const auto records = read_records(file_bytes(path));
  ASSERT_EQ(records.size(), 2u);
  tensorboard::Event event;
  ASSERT_TRUE(event.ParseFromString(records[1]));
  EXPECT_EQ(event.step(), 13);
  ASSERT_TRUE(event.has_session_log());
  EXPECT_EQ(event.session_log().status(), tensorboard::SessionLog::START);
}
