// core/parse_number.hpp: whole numbers and reals are taken only whole and in range; the error names the origin.
#include <gtest/gtest.h>

#include <string>

#include "core/parse_number.hpp"

namespace cbednet {
namespace {

std::string message_of(const auto& call) {
  try {
    call();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(ParseNumber, WholeNumbers) {
  EXPECT_EQ(parse_whole_number("--batch", "64", 1), 64);
  EXPECT_EQ(parse_whole_number("--io-threads", "-1", -1), -1);
  EXPECT_EQ(parse_whole_number("--seed", "9223372036854775807", 0), 9223372036854775807LL);
  for (const char* bad : {"", "abc", "12x", " 12", "1.5", "0", "-3", "99999999999999999999"}) {
    EXPECT_EQ(message_of([&] { (void)parse_whole_number("--batch", bad, 1); }),
              std::string("--batch: expected a whole number of at least 1, got '") + bad + "'")
        << bad;
  }
}

TEST(ParseNumber, RealNumbers) {
  EXPECT_DOUBLE_EQ(parse_real_number("--scale", "0.25"), 0.25);
  EXPECT_DOUBLE_EQ(parse_real_number("--scale", "-1e-3"), -1e-3);
  for (const char* bad : {"", "x", "0.5.1", "1e", "nan", "inf", "1e999"}) {
    EXPECT_EQ(message_of([&] { (void)parse_real_number("file a.csv, line 3", bad); }),
              std::string("file a.csv, line 3: expected a number, got '") + bad + "'")
        << bad;
  }
}

}  // namespace
}  // namespace cbednet
