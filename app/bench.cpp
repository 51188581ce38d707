// cbednet bench: training throughput (forward + backward + update) on synthetic data, printed as JSON.
// A benchmark, not a test: it reports what it measured, with the machine, the backend and the commit.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "app/model_options.hpp"
#include "app/mpi_session.hpp"
#include "app/subcommands.hpp"
#include "cbednet/build_info.hpp"
#include "core/model/train_step.hpp"

namespace cbednet::app {

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

int run_bench(const Args& args) {
  const CommandSpec spec{"bench", "Measure training throughput on synthetic data and print JSON.",
                         "cbednet bench --device cpu --arch resnet18 --size 128 --batch 16"};
  auto options = model_options(128);
  options.add_options()
    ("device", po::value<std::string>()->default_value("cpu"), "cpu, cpu-reference or cuda")
    ("precision", po::value<std::string>()->default_value("fp32"), "fp64, fp32, tf32, bf16 or fp16")
    ("batch", po::value<long>()->default_value(16), "global batch size")
    ("micro-batch-size", po::value<long>()->default_value(0), "micro-batch size (0: the whole batch)")
    ("steps", po::value<long>()->default_value(5), "timed steps")
    ("warmup", po::value<long>()->default_value(2), "untimed steps first")
    ("threads", po::value<int>()->default_value(0), "CPU threads (0: OpenMP default)")
    ("seed", po::value<unsigned long>()->default_value(1), "random seed");
  const auto vm = parse_options(spec, options, args);
  if (!vm) return 0;
  for (const char* name : {"batch", "steps"}) require_positive(*vm, name);
  const long batch = (*vm)["batch"].as<long>();
  const long steps = (*vm)["steps"].as<long>();
  const long warmup = std::max(0L, (*vm)["warmup"].as<long>());
  const auto seed = (*vm)["seed"].as<unsigned long>();

  const BackendOptions backend_options{(*vm)["device"].as<std::string>(), (*vm)["precision"].as<std::string>(), -1,
                                       (*vm)["threads"].as<int>()};
  auto backend = make_backend(backend_options);
  Model model = build_resnet(model_spec_from(*vm));
  Stage stage(*backend, model, 0, model.size(), seed);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 5e-5, false});

  // Synthetic data: fixed random images and labels (throughput does not depend on the values).
  Tensor images(model.input_shape(batch), DType::f32);
  const RandomStream stream(seed, RngPurpose::test);
  auto pixels = images.span<float>();
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(stream.normal(i));
  Tensor labels({batch, 1, 1, 1}, DType::i32);
  for (long i = 0; i < batch; ++i)
    labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(stream.below(static_cast<std::uint64_t>(model.classes()), i, 1));

  TrainStepOptions step_options{(*vm)["micro-batch-size"].as<long>(), 0.01, 0.1, seed, 0};
  for (long s = 0; s < warmup; ++s) {
    step_options.step = static_cast<std::uint64_t>(s);
    train_step(stage, loss, optimizer, images, labels, step_options);
  }
  backend->synchronize();
  const auto start = std::chrono::steady_clock::now();
  double last_loss = 0;
  for (long s = 0; s < steps; ++s) {
    step_options.step = static_cast<std::uint64_t>(warmup + s);
    last_loss = train_step(stage, loss, optimizer, images, labels, step_options).mean_loss();
  }
  backend->synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (world_rank() == 0) {
    const double images_per_s = static_cast<double>(batch * steps) / seconds;
    std::cout << "{\"benchmark\": \"train_step\", \"device\": \"" << backend->name() << "\", \"precision\": \""
              << backend_options.precision << "\", \"arch\": \"" << model.spec().arch << "\", \"size\": "
              << model.spec().input_size << ", \"batch\": " << batch << ", \"micro_batch\": "
              << (step_options.micro_batch > 0 ? step_options.micro_batch : batch) << ", \"steps\": " << steps
              << ", \"images_per_s\": " << images_per_s << ", \"ms_per_step\": " << 1e3 * seconds / static_cast<double>(steps)
              << ", \"gflop_per_s\": " << images_per_s * 6.0 * static_cast<double>(model.forward_macs_per_sample()) / 1e9
              << ", \"last_loss\": " << last_loss << ", \"threads\": " << omp_get_max_threads()
              << ", \"hardware_threads\": " << std::thread::hardware_concurrency() << ", \"cpu\": \"" << cpu_model()
              << "\", \"host\": \"" << host_name() << "\", \"cbednet\": \"" << build_info::version << "\", \"commit\": \""
              << build_info::git_commit << "\"}\n";
  }
  return 0;
}

}  // namespace cbednet::app
