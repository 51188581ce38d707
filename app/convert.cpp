// cbednet convert: SMC-2019 layout (directory or file) -> one packed HDF5 file (docs/data-format.md).
// Under mpiexec the ranks share the source files and write one file together (io/hdf5/convert.hpp); an interrupted
// conversion resumes when the same command runs again.
#include "io/hdf5/convert.hpp"

#include <mpi.h>

#include <iostream>

#include "app/mpi_session.hpp"
#include "app/options.hpp"
#include "app/subcommands.hpp"
#include "cbednet/build_info.hpp"
#include "core/progress.hpp"

namespace cbednet::app {

int run_convert(const Args& args) {
  const CommandSpec spec{"convert", "Pack SMC-2019 layout files into one chunked HDF5 file (one sample per chunk).",
                         "cbednet convert --in DIR --out FILE.h5 [--split train|dev|test|all] [--size S] "
                         "[--log-scale] [--dtype float32|float16] [--views stack|separate] [--skip-bad]"};
  po::options_description options("convert options");
  // clang-format off
  options.add_options()("in", po::value<std::string>()->required(), "SMC directory (train/ dev/ test/) or file")(
      "out", po::value<std::string>()->required(), "packed HDF5 file to write")(
      "split", po::value<std::string>()->default_value("all"), "train, dev, test or all")(
      "size", po::value<int>()->default_value(0), "output size S, S/2 or S/4 (area average); 0 keeps S")(
      "log-scale", po::bool_switch(), "store max(ln I, -17) + 17, times 10")(
      "dtype", po::value<std::string>()->default_value("float32"), "float32 or float16")(
      "views", po::value<std::string>()->default_value("stack"),
      "stack: 3 channels per sample; separate: one 1-channel sample per projection")(
      "skip-bad", po::bool_switch(), "drop unreadable samples (counted) instead of failing");
  // clang-format on
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;

  io::ConvertOptions c;
  c.in = (*vm)["in"].as<std::string>();
  c.out = (*vm)["out"].as<std::string>();
  c.split = (*vm)["split"].as<std::string>();
  io::parse_split(c.split);  // validate early, on every rank
  c.size = (*vm)["size"].as<int>();
  CBEDNET_REQUIRE(c.size >= 0, InvalidArgument, "--size: must be 0 or positive, got ", c.size);
  c.log_scale = (*vm)["log-scale"].as<bool>();
  c.dtype = io::parse_packed_dtype((*vm)["dtype"].as<std::string>());
  const auto views = (*vm)["views"].as<std::string>();
  CBEDNET_REQUIRE(views == "stack" || views == "separate", InvalidArgument,
                  "--views: expected stack or separate, got '", views, "'");
  c.separate_views = views == "separate";
  c.skip_bad = (*vm)["skip-bad"].as<bool>();
  c.creator = std::string("cbednet ") + build_info::version + " (" + build_info::git_commit + ")";

  // Every rank converts a share of the source files into the one output (parallel HDF5).
  int initialised = 0;
  MPI_Initialized(&initialised);
  c.comm = initialised != 0 ? MPI_COMM_WORLD : MPI_COMM_NULL;
  Progress progress("convert", "samples", 0, Progress::wanted((*vm)["quiet"].as<bool>()));  // rank 0's share
  c.on_written = [&](std::size_t, std::size_t total) {
    progress.set_total(static_cast<std::int64_t>((total + world_size() - 1) / world_size()));
    progress.advance();
  };
  const auto report = io::convert_to_packed(c);
  progress.finish();
  // What --skip-bad dropped, each once: the index's verdicts on rank 0, the pixel checks where they ran.
  if (world_rank() == 0)
    for (const auto& reason : report.skipped_at_open) std::cout << "skipped: " << reason << "\n";
  for (const auto& reason : report.skipped_pixels) std::cout << "skipped: " << reason << "\n";
  std::cout << std::flush;
  if (world_rank() == 0) {
    if (report.resumed)
      std::cout << "resumed an interrupted conversion: " << report.resumed_rows << " of " << report.samples
                << " samples were already written\n";
    std::cout << "wrote " << c.out << ": " << report.samples << " samples of [C=" << report.sample.c
              << ", H=" << report.sample.h << ", W=" << report.sample.w << "] " << io::to_string(c.dtype)
              << ", preprocessing " << report.preprocessing << ", skipped " << report.skipped << " (" << world_size()
              << " rank" << (world_size() == 1 ? "" : "s") << ")\n";
  }
  return 0;
}

}  // namespace cbednet::app
