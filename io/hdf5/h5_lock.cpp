#include "io/hdf5/h5_lock.hpp"

namespace cbednet::io::h5 {

std::recursive_mutex& library_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

}  // namespace cbednet::io::h5
