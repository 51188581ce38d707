// cbednet: dispatches to a subcommand. Any error inside a rank becomes one message and ends every rank.
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "app/mpi_session.hpp"
#include "app/stop_signals.hpp"
#include "app/subcommands.hpp"
#include "app/version.hpp"

namespace {

void print_usage() {
  std::cout << "Usage: cbednet <subcommand> [options]   (cbednet <subcommand> --help for its options)\n\n"
               "Subcommands:\n";
  for (const auto& sub : cbednet::app::subcommands) std::cout << "  " << sub.name << "\t" << sub.summary << '\n';
  std::cout << "\n  cbednet --version   versions of CBEDNet and of the libraries it was built with\n";
}

}  // namespace

int main(int argc, char** argv) {
  // A full disk or a file-size limit must surface as a write error with a message, not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
  // Before MPI (and anything else) starts a thread: preemption signals go to one watcher thread only.
  cbednet::app::watch_stop_signals();
  cbednet::app::MpiSession mpi(argc, argv);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    if (cbednet::app::world_rank() == 0) print_usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  if (name == "--version") {
    if (cbednet::app::world_rank() == 0) std::cout << cbednet::app::version_text();
    return 0;
  }
  for (const auto& sub : cbednet::app::subcommands) {
    if (name != sub.name) continue;
    try {
      return sub.run(cbednet::app::Args(argv + 2, argv + argc));
    } catch (const std::exception& e) {
      cbednet::app::abort_all(e.what(), 1);
    }
  }
  const std::string message = "unknown subcommand '" + name + "' (see cbednet --help)";
  cbednet::app::abort_all(message.c_str(), 2);
}
