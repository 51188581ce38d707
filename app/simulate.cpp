// Placeholder until the data layer lands (issue [Data]); replaced by the real subcommand.
#include "app/subcommands.hpp"
#include "core/error.hpp"

namespace cbednet::app {
int run_simulate(const Args&) { throw_error<Error>("cbednet simulate is not available in this build yet"); }
}  // namespace cbednet::app
