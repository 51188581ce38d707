// A tiny TFRecord reader for the tests of TensorBoard event files: splits a file into its records, checking the
// framing (both masked CRCs, no partial record).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "core/train/event_file.hpp"

namespace cbednet::test {

inline std::uint64_t read_little_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// Splits a TFRecord stream into its records, checking both CRCs of each.
inline std::vector<std::string> read_records(std::string_view stream) {
  std::vector<std::string> records;
  while (!stream.empty()) {
    EXPECT_GE(stream.size(), 12u) << "a partial record header";
    if (stream.size() < 12) break;
    const std::uint64_t length = read_little_endian(stream.substr(0, 8));
    EXPECT_EQ(read_little_endian(stream.substr(8, 4)), masked_crc32c(stream.substr(0, 8)));
    EXPECT_GE(stream.size(), 16 + length) << "a partial record";
    if (stream.size() < 16 + length) break;
    const std::string_view data = stream.substr(12, length);
    EXPECT_EQ(read_little_endian(stream.substr(12 + length, 4)), masked_crc32c(data));
    records.emplace_back(data);
    stream.remove_prefix(16 + length);
  }
  return records;
}

// The whole file, bytes as they are.
inline std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace cbednet::test
