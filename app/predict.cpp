// cbednet predict: per sample the predicted space group, its Hermann-Mauguin symbol and crystal system, the top
// five with probabilities and where the sample lives, as CSV or JSON. Unlabelled data is welcome: the true space
// group is then empty (CSV) or null (JSON).
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "app/mpi_session.hpp"
#include "app/subcommands.hpp"
#include "app/trained_model.hpp"
#include "core/json.hpp"
#include "core/parallel/gather.hpp"
#include "core/progress.hpp"
#include "core/train/evaluation.hpp"
#include "core/train/run_log.hpp"
#include "io/sim/space_group_table.hpp"

namespace cbednet::app {

namespace {

constexpr int top = 5;

// One output row; `truth` 0 for an unlabelled sample.
struct PredictionRow {
  std::size_t sample = 0;
  int truth = 0;
  int classes[top] = {};
  double probabilities[top] = {};
  std::string material;
  io::SampleLocation where;
};

constexpr std::size_t packed_width = 2 + 2 * top;  // sample, truth, (class, probability) x top

// This rank's rows packed as doubles (sample, truth, then top-5 classes and probabilities) for the gather.
std::vector<double> pack_rows(const Predictions& p, const std::vector<std::int16_t>& labels) {
  std::vector<double> rows;
  for (std::size_t i = 0; i < p.indices.size(); ++i) {
    const double* probs = p.probs.data() + i * static_cast<std::size_t>(p.classes);
    rows.push_back(static_cast<double>(p.indices[i]));
    rows.push_back(labels[static_cast<std::size_t>(p.indices[i])]);
    for (const int c : top_k(probs, p.classes, top)) {
      rows.push_back(c + 1);
      rows.push_back(probs[c]);
    }
  }
  return rows;
}

// Rows in sample order, with material and location looked up in `source`.
std::vector<PredictionRow> unpack_rows(const std::vector<double>& all, const io::SampleSource& source) {
  std::vector<PredictionRow> rows(all.size() / packed_width);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double* r = all.data() + i * packed_width;
    PredictionRow& row = rows[i];
    row.sample = static_cast<std::size_t>(r[0]);
    row.truth = static_cast<int>(r[1]);
    for (int k = 0; k < top; ++k) {
      row.classes[k] = static_cast<int>(r[2 + 2 * k]);
      row.probabilities[k] = r[3 + 2 * k];
    }
    if (row.sample < source.size()) {
      row.material = source.material(row.sample);
      row.where = source.location(row.sample);
      // Absolute, so that the report's gallery opens the file from wherever it runs.
      if (!row.where.file.empty())
        row.where.file = std::filesystem::absolute(row.where.file).lexically_normal().string();
    }
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.sample < b.sample; });
  return rows;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled (file paths may hold any).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + '"';
}

std::string predictions_csv(const std::vector<PredictionRow>& rows) {
  std::ostringstream text;
  text.precision(6);
  text << "sample,material,true_space_group,predicted_space_group,symbol,crystal_system,top5_space_groups,"
          "top5_probabilities,file,group,row\n";
  for (const auto& r : rows) {
    const auto& info = io::sim::space_group_info(r.classes[0]);
    text << r.sample << ',' << csv_field(r.material) << ',';
    if (r.truth > 0) text << r.truth;
    text << ',' << r.classes[0] << ',' << csv_field(info.symbol) << ',' << info.crystal_system << ',';
    for (int k = 0; k < top; ++k) text << (k ? ";" : "") << r.classes[k];
    text << ',';
    for (int k = 0; k < top; ++k) text << (k ? ";" : "") << r.probabilities[k];
    text << ',' << csv_field(r.where.file) << ',' << csv_field(r.where.group) << ',';
    if (r.where.row >= 0) text << r.where.row;
    text << '\n';
  }
  return text.str();
}

std::string predictions_json(const std::vector<PredictionRow>& rows) {
  std::ostringstream text;
  text << "[\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const auto& info = io::sim::space_group_info(r.classes[0]);
    text << "  {\"sample\": " << r.sample << ", \"material\": " << json_string(r.material)
         << ", \"true_space_group\": " << (r.truth > 0 ? std::to_string(r.truth) : "null")
         << ", \"predicted_space_group\": " << r.classes[0] << ", \"symbol\": " << json_string(info.symbol)
         << ", \"crystal_system\": " << json_string(info.crystal_system) << ", \"top5\": [";
    for (int k = 0; k < top; ++k)
      text << (k ? ", " : "") << "{\"space_group\": " << r.classes[k]
           << ", \"probability\": " << json_number(r.probabilities[k]) << "}";
    text << "], \"file\": " << json_string(r.where.file) << ", \"group\": " << json_string(r.where.group)
         << ", \"row\": " << (r.where.row >= 0 ? std::to_string(r.where.row) : "null") << "}"
         << (i + 1 < rows.size() ? "," : "") << '\n';
  }
  return text.str() + "]\n";
}

}  // namespace

int run_predict(const Args& args) {
  const CommandSpec spec{"predict",
                         "Predict space groups with a checkpoint: CSV (default) or JSON; labelled or unlabelled data.",
                         "cbednet predict --checkpoint FILE|RUNDIR --input PATH [--dataset PATH] --out FILE.csv "
                         "[--format csv|json]"};
  po::options_description options("predict options");
  // clang-format off
  options.add_options()
    ("input", po::value<std::string>()->required(),
     "SMC-2019 directory or file (labels optional), a packed file, .npy or TIFF files (or a directory of them), or "
     "an HDF5 file with --dataset")
    ("out", po::value<std::string>()->required(), "output file")
    ("format", po::value<std::string>()->default_value("csv"), "csv or json")
    ("dataset", po::value<std::string>(), "--input is an HDF5 file whose dataset PATH holds [N,3,S,S] stacks");
  // clang-format on
  add_inference_options(options, "all");
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  const auto format = (*vm)["format"].as<std::string>();
  CBEDNET_REQUIRE(format == "csv" || format == "json", InvalidArgument, "--format: expected csv or json, got '", format,
                  "'");
  const auto input = (*vm)["input"].as<std::string>();
  const auto out = (*vm)["out"].as<std::string>();

  const ForeignData foreign{true, vm->count("dataset") != 0U ? (*vm)["dataset"].as<std::string>() : std::string()};
  auto [trained, loader_ptr] = open_inference(*vm, input, foreign);
  io::DistributedLoader& loader = *loader_ptr;
  Progress progress("predict", "samples", static_cast<std::int64_t>((loader.size() + world_size() - 1) / world_size()),
                    Progress::wanted((*vm)["quiet"].as<bool>()));  // rank 0's share, about
  const Predictions p = predict_all(
      *trained.stage, loader, trained.views, [&](std::int64_t n) { progress.advance(n); }, trained.forward);
  progress.finish();

  const std::vector<double> all = gather_on_root(pack_rows(p, loader.labels()), MPI_COMM_WORLD);
  if (world_rank() != 0) return 0;
  const auto source = io::open_source(input, inference_source_options(*vm, trained, foreign));
  const auto rows = unpack_rows(all, *source);
  const std::size_t nulls_before = json_nulls_written();
  write_file_atomically(out, format == "csv" ? predictions_csv(rows) : predictions_json(rows));
  const auto unlabelled = std::count_if(rows.begin(), rows.end(), [](const auto& r) { return r.truth == 0; });
  std::printf("wrote %zu predictions to %s", rows.size(), out.c_str());
  if (unlabelled > 0) std::printf(" (%td without a label)", unlabelled);
  std::printf("\n");
  if (json_nulls_written() > nulls_before)
    std::printf("warning: %zu probabilities were not finite (the model's output is NaN or infinite), written as null\n",
                json_nulls_written() - nulls_before);
  return 0;
}

}  // namespace cbednet::app
