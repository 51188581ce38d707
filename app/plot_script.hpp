// The Python plotting script behind `cbednet report` and `cbednet inspect --preview`
// (scripts/report/cbednet_report.py; Debian's matplotlib draws, so the C++ side carries no plotting library).
//
// The script is looked up installed beside the binary (<prefix>/share/cbednet) and then in the source tree this
// binary was built from; it runs under CBEDNET_PYTHON or /usr/bin/python3 (Debian's, where python3-matplotlib
// installs, not whatever python3 comes first on PATH). The class tables of io/sim/space_group_table go to it as a
// context JSON, so the crystallography stays in one place.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace cbednet::app {

// The script's path; throws IoError naming every place looked at when it is in none.
std::filesystem::path plot_script_path();

// Writes the context JSON (the 230 space groups with symbol, point group and crystal system, the names of the 7
// crystal systems and 32 point groups, and version_text()) to `path`.
void write_plot_context(const std::filesystem::path& path);

// Runs the script with `mode` and `arguments` after writing a temporary context file for it (--context is added)
// and returns its exit status. The script reports its own failures in one line on stderr; a missing interpreter
// throws IoError naming it.
int run_plot_script(const std::string& mode, const std::vector<std::string>& arguments);

}  // namespace cbednet::app
