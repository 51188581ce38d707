// Errors inside a rank are exceptions that carry their context (file, sample, option, layer, shapes).
// The top level (app/main.cpp) turns one into a single message and, under MPI, MPI_Abort.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace cbednet {

// Base of every CBEDNet error. `what()` is the full message; it is meant for users, so it names the thing at fault.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A value given by the user (an option, a file's content, a shape) is invalid.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file could not be read or written, or its content is not what was expected.
class IoError : public Error {
 public:
  using Error::Error;
};

// Shapes passed between layers, or to a backend operation, do not fit.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A backend (CUDA, cuDNN, cuBLAS, NCCL, MPI) call failed.
class BackendError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

// Throws ErrorType with the parts streamed together: throw_error<ShapeError>("layer ", name, ": ", shape).
template <typename ErrorType = Error, typename... Parts>
[[noreturn]] void throw_error(Parts&&... parts) {
  throw ErrorType(detail::concat(std::forward<Parts>(parts)...));
}

}  // namespace cbednet

// Checks a condition that depends on input; throws ErrorType with the message when it fails.
#define CBEDNET_REQUIRE(cond, ErrorType, ...)                    \
  do {                                                           \
    if (!(cond)) ::cbednet::throw_error<ErrorType>(__VA_ARGS__); \
  } while (0)

// Checks an internal invariant (a bug if it fails); the message names the source location.
#define CBEDNET_ASSERT(cond)                                                                                       \
  do {                                                                                                             \
    if (!(cond))                                                                                                   \
      ::cbednet::throw_error<::cbednet::Error>("internal error: ", #cond, " failed at ", __FILE__, ":", __LINE__); \
  } while (0)
