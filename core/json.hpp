// Pieces of JSON text for the writers (evaluate, predict, the run log): strings escaped as RFC 8259 requires, and
// numbers JSON can hold. JSON has no NaN or infinity, so a non-finite number is written as null and counted: a
// diverged run or an empty class must not make a file that json.load() refuses.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cbednet {

// "text" with quotes, backslashes and control characters escaped.
std::string json_string(std::string_view text);
// The number with `precision` significant digits, or null (counted) when it is not finite.
std::string json_number(double value, int precision = 6);
// How many non-finite numbers json_number wrote as null in this process (a writer reports it to the user).
std::size_t json_nulls_written();

}  // namespace cbednet
