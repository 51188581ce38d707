// cbednet predict: per sample the predicted space group, its Hermann-Mauguin symbol and crystal system, and the
// top five with probabilities, as CSV or JSON.
#include <mpi.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "app/mpi_session.hpp"
#include "app/subcommands.hpp"
#include "app/trained_model.hpp"
#include "core/progress.hpp"
#include "core/train/evaluation.hpp"
#include "core/train/run_log.hpp"
#include "io/sim/space_group_table.hpp"

namespace cbednet::app {

namespace {

constexpr int top = 5;
constexpr int row_width = 2 + 2 * top;  // index, true space group, (class, probability) x 5

std::string json_escape(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled (file paths may hold any).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + '"';
}

// The report's gallery opens the files from wherever it runs.
std::string absolute_path(const std::string& path) {
  return path.empty() ? path : std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace

int run_predict(const Args& args) {
  const CommandSpec spec{"predict", "Predict space groups with a checkpoint: CSV (default) or JSON.",
                         "cbednet predict --checkpoint FILE|RUNDIR --input PATH --out FILE.csv [--format csv|json]"};
  po::options_description options("predict options");
  // clang-format off
  options.add_options()
    ("input", po::value<std::string>()->required(), "SMC-2019 directory or file, or a packed file")
    ("out", po::value<std::string>()->required(), "output file")
    ("format", po::value<std::string>()->default_value("csv"), "csv or json");
  // clang-format on
  add_inference_options(options, "all");
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  const auto format = (*vm)["format"].as<std::string>();
  CBEDNET_REQUIRE(format == "csv" || format == "json", InvalidArgument, "--format: expected csv or json, got '", format,
                  "'");
  const auto input = (*vm)["input"].as<std::string>();
  const auto out = (*vm)["out"].as<std::string>();

  auto [trained, loader_ptr] = open_inference(*vm, input);
  io::DistributedLoader& loader = *loader_ptr;
  Progress progress("predict", "samples", static_cast<std::int64_t>((loader.size() + world_size() - 1) / world_size()),
                    Progress::wanted((*vm)["quiet"].as<bool>()));  // rank 0's share, about
  const Predictions p =
      predict_all(*trained.stage, loader, trained.views, [&](std::int64_t n) { progress.advance(n); });
  progress.finish();

  // Pack this rank's rows and gather them on rank 0.
  std::vector<double> rows;
  for (std::size_t i = 0; i < p.indices.size(); ++i) {
    const double* probs = p.probs.data() + i * static_cast<std::size_t>(p.classes);
    rows.push_back(static_cast<double>(p.indices[i]));
    rows.push_back(loader.labels()[static_cast<std::size_t>(p.indices[i])]);
    for (const int c : top_k(probs, p.classes, top)) {
      rows.push_back(c + 1);
      rows.push_back(probs[c]);
    }
  }
  const int count = static_cast<int>(rows.size());
  std::vector<int> counts(static_cast<std::size_t>(world_size())), offsets(counts.size());
  MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<double> all;
  if (world_rank() == 0) {
    int total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      offsets[r] = total;
      total += counts[r];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(rows.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (world_rank() != 0) return 0;

  const std::size_t n = all.size() / row_width;
  std::vector<const double*> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = all.data() + i * row_width;
  std::sort(order.begin(), order.end(), [](const double* a, const double* b) { return a[0] < b[0]; });
  const auto source =
      io::open_source(input, {(*vm)["split"].as<std::string>(), trained.preprocess, (*vm)["skip-bad"].as<bool>()});
  std::ostringstream text;
  text.precision(6);
  if (format == "csv")
    text << "sample,material,true_space_group,predicted_space_group,symbol,crystal_system,top5_space_groups,"
            "top5_probabilities,file,group,row\n";
  else
    text << "[\n";
  for (std::size_t i = 0; i < n; ++i) {
    const double* r = order[i];
    const auto index = static_cast<std::size_t>(r[0]);
    const int predicted = static_cast<int>(r[2]);
    const auto& info = io::sim::space_group_info(predicted);
    const std::string material = index < source->size() ? source->material(index) : "";
    const io::SampleLocation where = index < source->size() ? source->location(index) : io::SampleLocation{};
    if (format == "csv") {
      text << index << ',' << csv_field(material) << ',' << static_cast<int>(r[1]) << ',' << predicted << ','
           << info.symbol << ',' << info.crystal_system << ',';
      for (int k = 0; k < top; ++k) text << (k ? ";" : "") << static_cast<int>(r[2 + 2 * k]);
      text << ',';
      for (int k = 0; k < top; ++k) text << (k ? ";" : "") << r[3 + 2 * k];
      text << ',' << csv_field(absolute_path(where.file)) << ',' << csv_field(where.group) << ',';
      if (where.row >= 0) text << where.row;
      text << '\n';
    } else {
      text << "  {\"sample\": " << index << ", \"material\": \"" << json_escape(material)
           << "\", \"true_space_group\": " << static_cast<int>(r[1]) << ", \"predicted_space_group\": " << predicted
           << ", \"symbol\": \"" << info.symbol << "\", \"crystal_system\": \"" << info.crystal_system
           << "\", \"top5\": [";
      for (int k = 0; k < top; ++k)
        text << (k ? ", " : "") << "{\"space_group\": " << static_cast<int>(r[2 + 2 * k])
             << ", \"probability\": " << r[3 + 2 * k] << "}";
      text << "], \"file\": \"" << json_escape(absolute_path(where.file)) << "\", \"group\": \""
           << json_escape(where.group) << "\", \"row\": " << where.row << "}" << (i + 1 < n ? "," : "") << '\n';
    }
  }
  if (format == "json") text << "]\n";
  write_file_atomically(out, text.str());
  std::printf("wrote %zu predictions to %s\n", n, out.c_str());
  return 0;
}

}  // namespace cbednet::app
