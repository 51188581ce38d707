#include "core/train/event_file.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <system_error>

#include "core/error.hpp"
#include "core/train/tensorboard_event.pb.h"

namespace cbednet {

namespace fs = std::filesystem;

namespace {

// Debian 12 packages no C/C++ CRC-32C library, and 256 table entries cost nothing: one byte per lookup.
constexpr std::array<std::uint32_t, 256> crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> crc32c_lookup = crc32c_table();

void append_little_endian(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// events.out.tfevents.<unix seconds>.<hostname>, with ".2", ".3"... when a file of that name exists (two runs
// started in the same second); TensorBoard reads any name containing "tfevents".
fs::path new_event_file_path(const fs::path& directory) {
  const auto seconds = static_cast<long long>(unix_seconds_now());
  const fs::path base = directory / ("events.out.tfevents." + std::to_string(seconds) + "." + host_name());
  fs::path path = base;
  for (int n = 2; fs::exists(path); ++n) path = base.string() + "." + std::to_string(n);
  return path;
}

std::string serialized(const tensorboard::Event& event) {
  std::string bytes;
  CBEDNET_REQUIRE(event.SerializeToString(&bytes), Error, "cannot encode a TensorBoard event");
  return bytes;
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : data) crc = (crc >> 8) ^ crc32c_lookup[(crc ^ static_cast<unsigned char>(c)) & 0xFFu];
  return crc ^ 0xFFFFFFFFu;
}

std::uint32_t masked_crc32c(std::string_view data) {
  const std::uint32_t crc = crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tfrecord_frame(std::string_view data) {
  std::string record;
  record.reserve(data.size() + 16);
  append_little_endian(record, data.size(), 8);
  append_little_endian(record, masked_crc32c(std::string_view(record).substr(0, 8)), 4);
  record.append(data);
  append_little_endian(record, masked_crc32c(data), 4);
  return record;
}

EventFileWriter::EventFileWriter(const fs::path& directory) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec)
    throw_error<IoError>("--tensorboard ", directory.string(), ": cannot create the directory (", ec.message(), ")");
  path_ = new_event_file_path(directory);
  file_.open(path_, std::ios::binary | std::ios::out);
  if (!file_) throw_error<IoError>("--tensorboard ", directory.string(), ": cannot create ", path_.string());
  tensorboard::Event version;
  version.set_wall_time(unix_seconds_now());
  version.set_file_version("brain.Event:2");
  pending_ += tfrecord_frame(serialized(version));
  flush();  // the file is a valid event file from the start
}

EventFileWriter::~EventFileWriter() {
  try {
    flush();
  } catch (const std::exception&) {  // a destructor must not throw; flush() reported errors before this one
  }
}

void EventFileWriter::write_scalars(std::int64_t step, const std::vector<ScalarValue>& values) {
  tensorboard::Event event;
  event.set_wall_time(unix_seconds_now());
  event.set_step(step);
  tensorboard::Summary* summary = event.mutable_summary();  // owned by event
  for (const ScalarValue& v : values) {
    tensorboard::Summary::Value* value = summary->add_value();  // owned by summary
    value->set_tag(v.tag);
    value->set_simple_value(v.value);
  }
  pending_ += tfrecord_frame(serialized(event));
}

void EventFileWriter::write_session_start(std::int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(unix_seconds_now());
  event.set_step(step);
  event.mutable_session_log()->set_status(tensorboard::SessionLog::START);
  pending_ += tfrecord_frame(serialized(event));
}

void EventFileWriter::flush() {
  if (pending_.empty()) return;
  file_.write(pending_.data(), static_cast<std::streamsize>(pending_.size()));
  file_.flush();
  if (!file_) throw_error<IoError>("cannot write the TensorBoard event file ", path_.string(), " (disk full?)");
  pending_.clear();
}

}  // namespace cbednet
