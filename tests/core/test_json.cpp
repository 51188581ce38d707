// JSON text pieces: escaping every character JSON requires, and non-finite numbers as counted nulls.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/json.hpp"

namespace cbednet {
namespace {

TEST(Json, StringsEscapeQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("line\nnext\ttab\r"), "\"line\\nnext\\ttab\\r\"");
  EXPECT_EQ(json_string(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(json_string("Å/μm"), "\"Å/μm\"");  // UTF-8 passes through unchanged
}

TEST(Json, NonFiniteNumbersAreCountedNulls) {
  const std::size_t before = json_nulls_written();
  EXPECT_EQ(json_number(0.25), "0.25");
  EXPECT_EQ(json_number(1.0 / 3.0, 3), "0.333");
  EXPECT_EQ(json_nulls_written(), before);
  EXPECT_EQ(json_number(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(json_number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(json_number(-std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(json_nulls_written(), before + 3);
}

}  // namespace
}  // namespace cbednet
