// The subcommands of `cbednet`, one file each under app/; main.cpp only dispatches.
// Each takes the arguments after the subcommand name and returns the process exit code; errors are thrown.
#pragma once

#include <string>
#include <vector>

namespace cbednet::app {

using Args = std::vector<std::string>;

int run_model(const Args& args);     // app/model.cpp     per-block table of a ResNet
int run_bench(const Args& args);     // app/bench.cpp     throughput benchmark (JSON)
int run_simulate(const Args& args);  // app/simulate.cpp  CBED simulator writing the SMC-2019 layout
int run_convert(const Args& args);   // app/convert.cpp   SMC layout -> packed HDF5
int run_inspect(const Args& args);   // app/inspect.cpp   summary of a data directory or file
int run_train(const Args& args);     // app/train.cpp     training (app/training_run.cpp)
int run_evaluate(const Args& args);  // app/evaluate.cpp  metrics of a checkpoint on a split
int run_predict(const Args& args);   // app/predict.cpp   per-sample predictions
int run_plan(const Args& args);      // app/plan.cpp      P x D and micro-batch planner for a cluster
int run_report(const Args& args);    // app/report.cpp    HTML report of a run and an evaluation
int run_export(const Args& args);    // app/export.cpp    checkpoint -> ONNX model
int run_import(const Args& args);    // app/import.cpp    ONNX ResNet -> checkpoint

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const Args&);
};

inline constexpr Subcommand subcommands[] = {
    {"simulate", "simulate CBED patterns of random crystals into the SMC-2019 HDF5 layout", run_simulate},
    {"convert", "pack SMC-2019 layout files into one chunked HDF5 file", run_convert},
    {"inspect", "summarise a data directory, SMC file or packed file", run_inspect},
    {"train", "train a ResNet across the MPI ranks (resumable)", run_train},
    {"evaluate", "evaluate a checkpoint: accuracy, macro-F1, baseline, confusion matrix", run_evaluate},
    {"predict", "predict space groups with a checkpoint (CSV or JSON)", run_predict},
    {"export", "export a checkpoint's network as an ONNX model (preprocessing included)", run_export},
    {"import", "import an ONNX ResNet (torchvision's form) as a checkpoint", run_import},
    {"report", "write an HTML report (plots) of a run directory and an evaluation", run_report},
    {"model", "print a ResNet's per-block shapes, parameters and MACs", run_model},
    {"bench", "measure training throughput and print JSON", run_bench},
    {"plan", "predict step time for every P x D grid on N nodes and print the best", run_plan},
};

}  // namespace cbednet::app
