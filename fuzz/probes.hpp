// What each fuzz target (and the regression test that replays their findings) does with one input file.
//
// A probe opens the file the way a cbednet subcommand would and reads everything in it. It returns "" when the
// input was accepted, or the message of the cbednet::Error it was rejected with: a clean rejection. Any other
// outcome (another exception type, a sanitizer report, a signal, a hang) is a finding.
#pragma once

#include <string>

namespace cbednet::fuzz {

// SmcFileReader: open, then every sample's label, material, stack size and pixels (read()).
std::string probe_smc_file(const std::string& path);
// io::open_source (packed or SMC, detected as cbednet does), then every sample's label, split and pixels.
std::string probe_source(const std::string& path);
// io::read_checkpoint_info, then io::verify_checkpoint (every dataset and the checksum).
std::string probe_checkpoint(const std::string& path);
// app::parse_options over the model options plus a run-like set (string, integer, real, switch, required),
// fed the file as --config, then app::model_spec_from on the result.
std::string probe_options(const std::string& path);

}  // namespace cbednet::fuzz
