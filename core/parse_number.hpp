// Numbers from a command line or a text file, checked whole: "12x", "" and out-of-range values are refused with an
// InvalidArgument naming where the text came from (an option, or a file and line), never a bare "stoi".
#pragma once

#include <charconv>
#include <string_view>
#include <system_error>

#include "core/error.hpp"

namespace cbednet {

// A whole number of at least `least`; `what` names the text's origin ("--batch", "file x.csv, line 3").
inline long long parse_whole_number(std::string_view what, std::string_view text, long long least) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < least)
    throw_error<InvalidArgument>(what, ": expected a whole number of at least ", least, ", got '", text, "'");
  return value;
}

// A finite decimal number (fixed or scientific notation).
inline double parse_real_number(std::string_view what, std::string_view text) {
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value != value || value - value != 0.0)
    throw_error<InvalidArgument>(what, ": expected a number, got '", text, "'");
  return value;
}

}  // namespace cbednet
