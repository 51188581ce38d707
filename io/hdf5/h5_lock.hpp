// The Debian parallel HDF5 is built without its thread-safe option, so no two threads may be inside the library
// at once. Every io/hdf5 entry point that calls HDF5 holds this (recursive) lock; a prefetch thread reading
// while the main thread asks for a label is therefore safe, merely serialised.
#pragma once

#include <mutex>

namespace cbednet::io::h5 {

std::recursive_mutex& library_mutex();

}  // namespace cbednet::io::h5
