#include "core/json.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace cbednet {

namespace {
std::atomic<std::size_t> nulls_written{0};
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(ch)));
          out += escaped;
        } else {
          out += ch;  // UTF-8 passes through
        }
    }
  }
  return out + '"';
}

std::string json_number(double value, int precision) {
  if (!std::isfinite(value)) {
    ++nulls_written;
    return "null";
  }
  std::ostringstream out;
  out.precision(precision);
  out << value;
  return out.str();
}

std::size_t json_nulls_written() { return nulls_written.load(); }

}  // namespace cbednet
