// cbednet inspect: samples, shape, dtype, split counts and label histograms (space group, crystal system) of a
// data directory, SMC file or packed file.
#include <iostream>

#include "app/mpi_session.hpp"
#include "app/options.hpp"
#include "app/subcommands.hpp"
#include "io/hdf5/convert.hpp"

namespace cbednet::app {

int run_inspect(const Args& args) {
  const CommandSpec spec{"inspect", "Summarise a data directory, SMC-2019 file or packed file.",
                         "cbednet inspect PATH [--split train|dev|test|all] [--json]"};
  po::options_description options("inspect options");
  // clang-format off
  options.add_options()("path", po::value<std::string>()->required(), "directory, SMC file or packed file")(
      "split", po::value<std::string>()->default_value("all"), "train, dev, test or all")(
      "json", po::bool_switch(), "print JSON instead of text");
  // clang-format on
  po::positional_options_description positional;
  positional.add("path", 1);
  const auto vm = parse_options(spec, options, args, &positional);
  if (!vm) return 0;
  if (world_rank() != 0) return 0;
  const auto summary = io::summarise((*vm)["path"].as<std::string>(), (*vm)["split"].as<std::string>());
  std::cout << ((*vm)["json"].as<bool>() ? io::to_json(summary) : io::to_text(summary));
  return 0;
}

}  // namespace cbednet::app
