#include "app/plot_script.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "app/version.hpp"
#include "core/error.hpp"
#include "core/train/run_log.hpp"
#include "io/sim/space_group_table.hpp"

extern char** environ;

namespace cbednet::app {

namespace fs = std::filesystem;

namespace {

constexpr const char* script_name = "cbednet_report.py";

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';  // no other control characters occur in symbols or version lines; keep the JSON valid anyway
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// Removes the context file however the run ends.
struct TemporaryFile {
  fs::path path;
  ~TemporaryFile() {
    std::error_code ignored;
    fs::remove(path, ignored);
  }
};

}  // namespace

fs::path plot_script_path() {
  std::vector<fs::path> candidates;
  std::error_code ec;
  // Installed: <prefix>/bin/cbednet and <prefix>/share/cbednet/cbednet_report.py (relative, so --prefix moves both).
  const fs::path executable = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(executable.parent_path() / CBEDNET_BIN_TO_SCRIPT_DIR / script_name);
  // Built and run from the build tree: the source tree it was configured from.
  candidates.push_back(fs::path(CBEDNET_SOURCE_DIR) / "scripts" / "report" / script_name);
  std::string looked;
  for (const auto& candidate : candidates) {
    if (fs::is_regular_file(candidate, ec)) return candidate.lexically_normal();
    looked += (looked.empty() ? "" : ", ") + candidate.lexically_normal().string();
  }
  throw_error<IoError>("the plotting script ", script_name, " is in none of: ", looked,
                       " (install cbednet with cmake --install, or run it from its build tree)");
}

void write_plot_context(const fs::path& path) {
  std::ostringstream out;
  out << "{\"versions\": " << json_string(version_text()) << ",\n \"crystal_systems\": [";
  for (int i = 0; i < 7; ++i) out << (i ? ", " : "") << json_string(io::sim::crystal_system_name(i));
  out << "],\n \"point_groups\": [";
  for (int i = 0; i < 32; ++i) out << (i ? ", " : "") << json_string(io::sim::point_group_name(i));
  out << "],\n \"classes\": {";
  for (int number = 1; number <= 230; ++number) {
    const auto& info = io::sim::space_group_info(number);
    out << (number > 1 ? ",\n  " : "\n  ") << '"' << number << "\": {\"symbol\": " << json_string(info.symbol)
        << ", \"point_group\": " << json_string(info.point_group)
        << ", \"crystal_system\": " << json_string(info.crystal_system)
        << ", \"crystal_system_index\": " << io::sim::crystal_system_index(number)
        << ", \"point_group_index\": " << io::sim::point_group_index(number) << '}';
  }
  out << "}}\n";
  write_file_atomically(path, out.str());
}

int run_plot_script(const std::string& mode, const std::vector<std::string>& arguments) {
  const fs::path script = plot_script_path();
  const char* from_environment = std::getenv("CBEDNET_PYTHON");
  const std::string python = from_environment && *from_environment ? from_environment : "/usr/bin/python3";

  const TemporaryFile context{fs::temp_directory_path() /
                              ("cbednet-plot-context-" + std::to_string(::getpid()) + ".json")};
  write_plot_context(context.path);

  std::vector<std::string> words{python, script.string(), mode, "--context", context.path.string()};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  pid_t child = 0;
  // posix_spawnp, not system(): no shell, so paths with spaces or quotes pass through unchanged.
  const int spawned = ::posix_spawnp(&child, python.c_str(), nullptr, nullptr, argv.data(), environ);
  if (spawned != 0)
    throw_error<IoError>("cannot run the Python interpreter ", python, ": ", std::strerror(spawned),
                         " (install Debian's python3 with python3-matplotlib, or set CBEDNET_PYTHON)");
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw_error<IoError>("waiting for ", python, " ", script.string(), ": ", std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  throw_error<IoError>(python, " ", script.string(), " was killed by signal ", WTERMSIG(status));
}

}  // namespace cbednet::app
