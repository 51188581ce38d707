// cbednet_io: see io/hdf5 (readers, writers, packed layout, parallel dataset) and io/sim (simulator).
namespace cbednet::io {
const char* library_name() { return "cbednet_io"; }
}  // namespace cbednet::io
