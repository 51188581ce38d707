// Removed when the first io/ source lands.
namespace cbednet::io { void io_placeholder() {} }
