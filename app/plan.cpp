// Placeholder until the planner lands (issue [Ops]); replaced by the real subcommand.
#include "app/subcommands.hpp"
#include "core/error.hpp"

namespace cbednet::app {
int run_plan(const Args&) { throw_error<Error>("cbednet plan is not available in this build yet"); }
}  // namespace cbednet::app
