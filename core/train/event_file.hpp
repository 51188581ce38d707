// TensorBoard event files: TFRecord-framed Event messages (tensorboard_event.proto), written by world rank 0.
// TensorBoard reads every file named *tfevents* in a directory and merges them by step, so each run (and each
// resume of it) writes a file of its own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace cbednet {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord frames use: crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(std::string_view data);
// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8, so CRCs of data that holds CRCs stay strong.
std::uint32_t masked_crc32c(std::string_view data);
// One TFRecord: uint64 length (little endian), masked CRC of those 8 bytes, the data, masked CRC of the data.
std::string tfrecord_frame(std::string_view data);

struct ScalarValue {
  std::string tag;
  float value = 0;  // TensorBoard's simple_value is a float
};

class EventFileWriter {
 public:
  // Creates `directory` if needed and in it events.out.tfevents.<unix seconds>.<hostname> (a numeric suffix if that
  // exists), whose first record is the file_version event. Throws IoError naming the directory if it cannot.
  explicit EventFileWriter(const std::filesystem::path& directory);
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;
  ~EventFileWriter();  // flushes what is pending (errors are ignored there: call flush() to see them)

  // One Event at `step` with one Summary of these scalars (buffered until flush()).
  void write_scalars(std::int64_t step, const std::vector<ScalarValue>& values);
  // A SessionLog START at `step`: TensorBoard forgets the points of every earlier file at and after `step`, so a
  // resumed run's re-run steps replace those of the run it continues (buffered until flush()).
  void write_session_start(std::int64_t step);
  // Appends the buffered records to the file and flushes it. Records are only ever written whole, here, so the
  // file holds complete records after every flush (TensorBoard may be reading it meanwhile).
  void flush();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream file_;
  std::string pending_;  // framed records not yet in the file
};

}  // namespace cbednet
