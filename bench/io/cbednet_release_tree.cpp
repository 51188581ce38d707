// cbednet_release_tree: writes an SMC-layout tree with the shape of the ORNL SMC-2019 release — its file count,
// its sample count and its class imbalance per split (../shared/research/smc2019-class-distribution.csv) — at a
// small image size, so that indexing, conversion and training at the release's scale can be timed on any machine.
//
//   cbednet_release_tree --classes FILE.csv --out DIR [--files 1138] [--scale 1.0] [--size 8] [--seed 1]
//
// The CSV's Train/Dev/Test columns give each space group's count per split (times --scale, at least 1 where the
// release has any); samples are shuffled over the split's files (Philox, --seed) and written with SmcFileWriter
// (space_group as the release's fixed-length string, a material per sample group). Pixels are smooth positive
// noise; nothing is to be learnt from them. Prints one JSON object (files, samples, bytes, seconds).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/parse_number.hpp"
#include "core/rng.hpp"
#include "io/hdf5/smc_file.hpp"

namespace {

using namespace cbednet;

struct Options {
  std::string classes, out;
  int files = 1138, size = 8;
  double scale = 1.0;
  std::uint64_t seed = 1;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    CBEDNET_REQUIRE(i + 1 < argc, InvalidArgument, a, ": missing value");
    const std::string v = argv[++i];
    if (a == "--classes")
      o.classes = v;
    else if (a == "--out")
      o.out = v;
    else if (a == "--files")
      o.files = static_cast<int>(parse_whole_number(a, v, 3));
    else if (a == "--scale")
      o.scale = parse_real_number(a, v);
    else if (a == "--size")
      o.size = static_cast<int>(parse_whole_number(a, v, 2));
    else if (a == "--seed")
      o.seed = static_cast<std::uint64_t>(parse_whole_number(a, v, 0));
    else
      throw_error<InvalidArgument>("unknown option ", a);
  }
  CBEDNET_REQUIRE(!o.classes.empty() && !o.out.empty(), InvalidArgument, "--classes FILE.csv and --out DIR are needed");
  CBEDNET_REQUIRE(o.files >= 3 && o.size >= 2 && o.scale > 0, InvalidArgument,
                  "--files >= 3, --size >= 2, --scale > 0");
  return o;
}

// Labels per split (train, dev, test), in class order, from the CSV (",Dev,Overall,Test,Train" header).
std::array<std::vector<int>, 3> read_labels(const Options& o) {
  std::ifstream in(o.classes);
  CBEDNET_REQUIRE(in.good(), IoError, "file ", o.classes, ": cannot be read");
  std::string line;
  std::getline(in, line);
  CBEDNET_REQUIRE(line.find("Dev") != std::string::npos && line.find("Train") != std::string::npos, IoError, "file ",
                  o.classes, ": expected the header ,Dev,Overall,Test,Train");
  std::array<std::vector<int>, 3> labels;
  int space_group = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++space_group;
    std::stringstream fields(line);
    std::string name, dev, overall, test, train;
    std::getline(fields, name, ',');
    std::getline(fields, dev, ',');
    std::getline(fields, overall, ',');
    std::getline(fields, test, ',');
    std::getline(fields, train, ',');
    const std::string where = "file " + o.classes + ", space group " + std::to_string(space_group);
    const std::array<int, 3> counts{static_cast<int>(parse_whole_number(where + " Train", train, 0)),
                                    static_cast<int>(parse_whole_number(where + " Dev", dev, 0)),
                                    static_cast<int>(parse_whole_number(where + " Test", test, 0))};
    for (std::size_t s = 0; s < 3; ++s) {
      const int n = counts[s] == 0 ? 0 : std::max(1, static_cast<int>(std::lround(counts[s] * o.scale)));
      labels[s].insert(labels[s].end(), static_cast<std::size_t>(n), space_group);
    }
  }
  CBEDNET_REQUIRE(space_group == 230, IoError, "file ", o.classes, ": ", space_group, " classes, expected 230");
  return labels;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const auto start = std::chrono::steady_clock::now();
    auto labels = read_labels(o);
    const std::size_t total = labels[0].size() + labels[1].size() + labels[2].size();
    const char* names[3] = {"train", "dev", "test"};
    const RandomStream rng(o.seed, RngPurpose::test, 2019);
    std::size_t files_written = 0, samples_written = 0, bytes = 0, material = 0;
    std::vector<float> stack(3 * static_cast<std::size_t>(o.size) * o.size);
    for (std::size_t s = 0; s < 3; ++s) {
      auto& split = labels[s];
      for (std::size_t i = split.size(); i > 1; --i)  // Fisher-Yates with counter-based draws: seed-determined
        std::swap(split[i - 1], split[static_cast<std::size_t>(rng.uniform(s, i) * static_cast<double>(i))]);
      // Files in proportion to the split's samples, as in the release (about 164 samples per file).
      const auto files = std::max<std::size_t>(
          1, static_cast<std::size_t>(std::lround(static_cast<double>(o.files) * split.size() / total)));
      const std::filesystem::path dir = std::filesystem::path(o.out) / names[s];
      std::filesystem::create_directories(dir);
      for (std::size_t f = 0; f < files; ++f) {
        const std::size_t first = split.size() * f / files, last = split.size() * (f + 1) / files;
        io::SmcFileWriter writer((dir / ("batch_" + std::string(names[s]) + "_" + std::to_string(f) + ".h5")).string());
        writer.set_fixed_length_strings(true);
        for (std::size_t j = first; j < last; ++j, ++material) {
          io::SmcSample sample;
          sample.group_name = "sample_" + std::to_string(j - first) + "_0";
          sample.space_group = split[j];
          sample.size = o.size;
          sample.material = "mp-" + std::to_string(material);
          for (std::size_t p = 0; p < stack.size(); ++p)
            stack[p] = static_cast<float>(1.0 + 100.0 * rng.uniform(1000 + material, p));
          sample.cbed_stack = stack;
          writer.write(sample);
        }
        writer.commit();
        bytes += std::filesystem::file_size(writer.path());
        samples_written += last - first;
        ++files_written;
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "{\"tool\": \"cbednet_release_tree\", \"out\": \"%s\", \"files\": %zu, \"samples\": %zu, "
        "\"size\": %d, \"bytes\": %zu, \"seconds\": %.1f}\n",
        o.out.c_str(), files_written, samples_written, o.size, bytes, seconds);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cbednet_release_tree: %s\n", e.what());
    return 1;
  }
}
