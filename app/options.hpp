// Command-line and configuration-file options for every subcommand (Boost.Program_options).
//
// Each subcommand describes its options; parse_options() adds --help and --config FILE (INI: `key = value`,
// sections as `[section]` become `section.key`), reads the file when given, and lets command-line flags win.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cbednet::app {

namespace po = boost::program_options;

struct CommandSpec {
  std::string name;     // "train"
  std::string summary;  // one line for `cbednet --help`
  std::string usage;    // "cbednet train --data PATH --arch NAME ..."
};

// Returns nothing when --help was asked (the usage was printed on rank 0); throws InvalidArgument naming the
// option for unknown options, missing required ones, bad values or an unreadable config file.
std::optional<po::variables_map> parse_options(const CommandSpec& spec, const po::options_description& options,
                                               const std::vector<std::string>& args,
                                               const po::positional_options_description* positional = nullptr);

// The resolved options as INI text (what a run directory records as its configuration).
std::string to_ini(const po::variables_map& vm);

// Require a positive value: throws InvalidArgument("--name: must be positive, got V").
void require_positive(const po::variables_map& vm, const std::string& name);

}  // namespace cbednet::app
