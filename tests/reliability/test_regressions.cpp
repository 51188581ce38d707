// Replays every input under tests/reliability/regressions/<target>/ (inputs that once crashed or hung a fuzz
// target) and the committed seeds under fuzz/corpus/<target>/ through the same probes as the fuzz targets
// (fuzz/probes.hpp). Each must be accepted or rejected with a cbednet::Error; another exception escaping, a
// sanitizer report (under ASan/UBSan) or a crash fails the test. Known-bad inputs must be rejected.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "fuzz/probes.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.' && e.path().extension() != ".md")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void replay(const std::string& target, const std::function<std::string(const std::string&)>& probe) {
  const fs::path root(CBEDNET_SOURCE_DIR);
  int replayed = 0;
  for (const auto& dir : {root / "tests/reliability/regressions" / target, root / "fuzz/corpus" / target})
    for (const auto& file : files_in(dir)) {
      SCOPED_TRACE(file.string());
      std::string message;
      EXPECT_NO_THROW(message = probe(file.string()));
      // Findings under regressions/ were invalid inputs: they must be rejected; a file reader's message must
      // name the file.
      if (dir.filename() == target && dir.parent_path().filename() == "regressions") {
        EXPECT_FALSE(message.empty()) << "accepted";
        if (target != "options") {
          EXPECT_NE(message.find(file.filename().string()), std::string::npos) << message;
        }
      }
      ++replayed;
    }
  ::testing::Test::RecordProperty("replayed", replayed);
}

}  // namespace

TEST(FuzzRegressions, SmcFile) { replay("smc_file", cbednet::fuzz::probe_smc_file); }
TEST(FuzzRegressions, Source) { replay("source", cbednet::fuzz::probe_source); }
TEST(FuzzRegressions, Checkpoint) { replay("checkpoint", cbednet::fuzz::probe_checkpoint); }
TEST(FuzzRegressions, Options) { replay("options", cbednet::fuzz::probe_options); }
// The array targets route by file name: their findings are kept with the suffix the fuzz target gives its input.
TEST(FuzzRegressions, Npy) { replay("npy", cbednet::fuzz::probe_source); }
TEST(FuzzRegressions, Tiff) { replay("tiff", cbednet::fuzz::probe_source); }

// The probes themselves can tell good from bad (so the replay above can fail).
TEST(FuzzProbes, RejectCleanly) {
  const fs::path dir = fs::temp_directory_path() /
                       ("cbednet-probe-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  fs::create_directories(dir);
  const auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string junk = write("junk.h5", "not hdf5 at all");
  EXPECT_NE(cbednet::fuzz::probe_smc_file(junk).find("junk.h5"), std::string::npos);
  EXPECT_NE(cbednet::fuzz::probe_source(junk).find("junk.h5"), std::string::npos);
  EXPECT_NE(cbednet::fuzz::probe_checkpoint(junk).find("junk.h5"), std::string::npos);
  EXPECT_EQ(cbednet::fuzz::probe_options(write("good.ini", "data = x\narch = resnet18\n")), "");
  EXPECT_NE(cbednet::fuzz::probe_options(write("bad.ini", "data = x\narch = resnet7\n")).find("resnet7"),
            std::string::npos);
  EXPECT_NE(cbednet::fuzz::probe_options(write("unknown.ini", "data = x\nbogus = 1\n")).find("bogus"),
            std::string::npos);
  fs::remove_all(dir);
}
