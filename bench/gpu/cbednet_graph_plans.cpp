// cbednet-graph-plans: which of a network's convolutions cuDNN would run as graphs on a GPU described by a
// device-properties profile, asked on a machine without that GPU (kernels/cuda/graph_plan_check.hpp).
//
// The calls are the network's own: one training step (the plain path, then the fused batch-norm path) and one
// folded inference forward run on the CPU at batch 1 through a recorder that notes every convolution operation the
// model calls, then scaled to --batch. Each distinct call is mapped to the graph the CUDA backend would build under
// --conv-api graph in --precision and taken through the backend's plan selection, up to built plans.
// Prints one JSON line per distinct graph and a summary line; exits 0 whatever cuDNN accepts (a refused graph runs
// the backend's fallback), non-zero for bad options or a profile cuDNN cannot read.
//   cbednet-graph-plans --profile bench/gpu/profiles/h100-sxm5-80gb.json [--arch resnet50] [--image 512]
//                       [--batch 64] [--precision bf16] [--nondeterministic] [--sm 90]
//   cbednet-graph-plans --profile FILE --calls CALLS [--precision P] [--layout nhwc|nchw]
//                       (given shapes instead of a network's; CALLS: one call per line, '#' starts a comment,
//                        "OP N C H W K KERNEL STRIDE PAD [residual] [relu] [norm_input]", OP as the JSON's "op";
//                        x is [N,C,H,W], the filter [K,C,KERNEL,KERNEL])
//   cbednet-graph-plans --save-profile FILE     (on a GPU machine: cuDNN's description of device 0)
#include <cudnn.h>

#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cbednet/build_info.hpp"
#include "core/json.hpp"
#include "core/layers/softmax_cross_entropy.hpp"
#include "core/model/model.hpp"
#include "core/model/resnet.hpp"
#include "core/model/stage.hpp"
#include "core/model/train_step.hpp"
#include "core/optim/sgd.hpp"
#include "core/parse_number.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/graph_plan_check.hpp"
#include "kernels/profiling_backend.hpp"

using namespace cbednet;
using cuda::ConvCall;
using cuda::ConvCallKind;

namespace {

// Forwards every operation to the CPU backend (through ProfilingBackend) and notes each convolution call.
class ConvCallRecorder final : public ProfilingBackend {
 public:
  using ProfilingBackend::ProfilingBackend;
  std::vector<ConvCall> calls;

 protected:
  void do_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                         const ConvGeometry& g) override {
    note(ConvCallKind::forward, x, w, y, g);
    ProfilingBackend::do_conv2d_forward(x, w, bias, y, g);
  }
  void do_conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const ConvGeometry& g,
                               GradMode mode) override {
    note(ConvCallKind::backward_data, dy, w, dx, g);
    ProfilingBackend::do_conv2d_backward_data(dy, w, dx, g, mode);
  }
  void do_conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias, const ConvGeometry& g,
                                 GradMode mode) override {
    note(ConvCallKind::backward_filter, x, dy, dw, g);
    ProfilingBackend::do_conv2d_backward_filter(x, dy, dw, dbias, g, mode);
  }
  void do_conv2d_bias_act_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual,
                                  Activation act, Tensor& y, const ConvGeometry& g) override {
    note(ConvCallKind::bias_act, x, w, y, g).residual = residual != nullptr;
    calls.back().relu = act == Activation::relu;
    ProfilingBackend::do_conv2d_bias_act_forward(x, w, bias, residual, act, y, g);
  }
  void do_conv2d_stats_forward(const Tensor& x, const NormRelu* input, const Tensor& w, Tensor& y, Tensor& sum,
                               Tensor& sqsum, const ConvGeometry& g) override {
    note(ConvCallKind::stats_forward, x, w, y, g).norm_input = input != nullptr;
    ProfilingBackend::do_conv2d_stats_forward(x, input, w, y, sum, sqsum, g);
  }
  void do_conv2d_backward_filter_norm_relu(const Tensor& x, const NormRelu& input, const Tensor& dy, Tensor& dw,
                                           const ConvGeometry& g, GradMode mode) override {
    note(ConvCallKind::wgrad_norm_relu, x, dy, dw, g);
    ProfilingBackend::do_conv2d_backward_filter_norm_relu(x, input, dy, dw, g, mode);
  }
  void do_conv2d_backward_data_norm_relu(const Tensor& dy, const Tensor& w, const Tensor& x, const NormRelu& input,
                                         Tensor& dx, Tensor& dgamma, Tensor& dbeta, const ConvGeometry& g,
                                         GradMode mode) override {
    note(ConvCallKind::dgrad_norm_relu, dy, w, dx, g);
    ProfilingBackend::do_conv2d_backward_data_norm_relu(dy, w, x, input, dx, dgamma, dbeta, g, mode);
  }

 private:
  ConvCall& note(ConvCallKind kind, const Tensor& a, const Tensor& b, const Tensor& out, const ConvGeometry& g) {
    return calls.emplace_back(ConvCall{kind, a.shape(), b.shape(), out.shape(), g});
  }
};

struct Options {
  std::string profile, save_profile, calls, arch = "resnet50", precision = "bf16";
  Layout layout = Layout::nhwc;
  std::int64_t image = 512, batch = 64;
  int sm = 0;
  bool deterministic = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw_error<InvalidArgument>(a, ": needs a value");
      return argv[++i];
    };
    if (a == "--profile") {
      o.profile = value();
    } else if (a == "--save-profile") {
      o.save_profile = value();
    } else if (a == "--calls") {
      o.calls = value();
    } else if (a == "--layout") {
      const std::string l = value();
      if (l != "nhwc" && l != "nchw") throw_error<InvalidArgument>("--layout ", l, ": nhwc or nchw");
      o.layout = l == "nhwc" ? Layout::nhwc : Layout::nchw;
    } else if (a == "--arch") {
      o.arch = value();
    } else if (a == "--precision") {
      o.precision = value();
    } else if (a == "--image") {
      o.image = parse_whole_number(a, value(), 32);
    } else if (a == "--batch") {
      o.batch = parse_whole_number(a, value(), 1);
    } else if (a == "--sm") {
      o.sm = static_cast<int>(parse_whole_number(a, value(), 0));
    } else if (a == "--nondeterministic") {
      o.deterministic = false;
    } else {
      throw_error<InvalidArgument>("unknown option ", a,
                                   " (see the comment at the top of bench/gpu/cbednet_graph_plans.cpp)");
    }
  }
  cuda::check_precision(o.precision);
  if (o.profile.empty() == o.save_profile.empty())
    throw_error<InvalidArgument>("give exactly one of --profile FILE and --save-profile FILE");
  return o;
}

// Every convolution call of one training step, plain and with the fused batch norm, and of one folded inference
// forward, at batch 1.
std::vector<ConvCall> record_calls(const Options& o) {
  ResNetSpec spec = resnet_spec(o.arch);
  spec.input_size = o.image;
  Model model = build_resnet(spec);
  CpuBackend<float> cpu(0);
  ConvCallRecorder recorder(cpu);
  Stage stage(recorder, model, 0, model.size(), 1);
  Tensor images(model.input_shape(1), DType::f32), labels({1, 1, 1, 1}, DType::i32);
  SoftmaxCrossEntropy loss(model.classes());
  SgdOptimizer optimizer({0.9, 1e-4, false});
  for (const bool fused : {false, true}) {
    stage.set_fused_batch_norm(fused);
    train_step(stage, loss, optimizer, images, labels, {});
  }
  stage.fold_batch_norms();
  predict_logits(stage, images);
  return recorder.calls;
}

// The batch dimension of every activation operand (filters keep theirs).
ConvCall at_batch(ConvCall c, std::int64_t n) {
  const bool b_is_filter = c.kind != ConvCallKind::backward_filter && c.kind != ConvCallKind::wgrad_norm_relu;
  const bool out_is_filter = !b_is_filter;
  c.a.n = n;
  if (!b_is_filter) c.b.n = n;
  if (!out_is_filter) c.out.n = n;
  return c;
}

std::string call_key(const ConvCall& c) {
  std::ostringstream k;
  k << static_cast<int>(c.kind) << c.a.str() << c.b.str() << c.out.str() << c.geometry.kernel_h << ','
    << c.geometry.kernel_w << ',' << c.geometry.stride << ',' << c.geometry.pad << c.norm_input << c.residual << c.relu;
  return k.str();
}

// --calls: "OP N C H W K KERNEL STRIDE PAD [residual] [relu] [norm_input]" per line, x [N,C,H,W], filter [K,C,R,R].
std::vector<ConvCall> read_calls(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw_error<InvalidArgument>("--calls ", path, ": cannot be read");
  std::vector<ConvCall> calls;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    std::string op;
    if (!(fields >> op)) continue;
    std::int64_t n = 0, c = 0, h = 0, w = 0, k = 0;
    int kernel = 0, stride = 0, pad = 0;
    const auto bad = [&](const std::string& why) {
      throw_error<InvalidArgument>("--calls ", path, " line ", number, ": ", why);
    };
    if (!(fields >> n >> c >> h >> w >> k >> kernel >> stride >> pad)) bad("expected OP N C H W K KERNEL STRIDE PAD");
    ConvCall call;
    bool known = false;
    for (int i = 0; i <= static_cast<int>(ConvCallKind::dgrad_norm_relu); ++i)
      if (op == cuda::to_string(static_cast<ConvCallKind>(i))) {
        call.kind = static_cast<ConvCallKind>(i);
        known = true;
      }
    if (!known) bad("unknown operation " + op);
    call.geometry = ConvGeometry{kernel, kernel, stride, pad};
    const Shape x{n, c, h, w}, filter{k, c, kernel, kernel};
    Shape y;
    try {
      y = call.geometry.output_shape(x, k);
    } catch (const std::exception& e) {
      bad(e.what());
    }
    switch (call.kind) {
      case ConvCallKind::backward_data:
      case ConvCallKind::dgrad_norm_relu:
        call.a = y, call.b = filter, call.out = x;
        break;
      case ConvCallKind::backward_filter:
      case ConvCallKind::wgrad_norm_relu:
        call.a = x, call.b = y, call.out = filter;
        break;
      default:
        call.a = x, call.b = filter, call.out = y;
    }
    for (std::string flag; fields >> flag;) {
      if (flag == "residual") {
        call.residual = true;
      } else if (flag == "relu") {
        call.relu = true;
      } else if (flag == "norm_input") {
        call.norm_input = true;
      } else {
        bad("unknown flag " + flag);
      }
    }
    calls.push_back(call);
  }
  return calls;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error<InvalidArgument>("--profile ", path, ": cannot be read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int run(const Options& o) {
  if (!o.save_profile.empty()) {
    const cuda::SavedDeviceProperties saved = cuda::save_device_properties(0);
    const std::string tmp = o.save_profile + ".tmp";
    std::ofstream(tmp, std::ios::binary) << saved.json;
    if (std::rename(tmp.c_str(), o.save_profile.c_str()) != 0)
      throw_error<InvalidArgument>("--save-profile ", o.save_profile, ": cannot be written");
    std::cout << "{\"saved_profile\": " << json_string(o.save_profile) << ", \"sm_version\": " << saved.sm_version
              << "}\n";
    return 0;
  }
  cuda::GraphPlanOptions options;
  options.device_properties_json = read_file(o.profile);
  options.precision = o.precision;
  options.deterministic = o.deterministic;
  options.sm_version = o.sm;
  std::smatch m;
  if (options.sm_version == 0 &&
      std::regex_search(options.device_properties_json, m, std::regex(R"("deviceVer"\s*:\s*(\d+))")))
    options.sm_version = std::stoi(m[1].str()) / 10;
  if (options.sm_version == 0) throw_error<InvalidArgument>("--profile ", o.profile, ": no deviceVer; give --sm");

  std::vector<ConvCall> distinct;
  std::map<std::string, int> uses;
  options.layout = o.layout;
  for (const ConvCall& c : o.calls.empty() ? record_calls(o) : read_calls(o.calls)) {
    const ConvCall scaled = o.calls.empty() ? at_batch(c, o.batch) : c;
    if (uses[call_key(scaled)]++ == 0) distinct.push_back(scaled);
  }
  const std::vector<cuda::GraphPlanResult> results = cuda::check_graph_plans(options, distinct);
  std::map<std::string, std::map<std::string, int>> summary;  // op -> path -> distinct graphs
  for (std::size_t i = 0; i < results.size(); ++i) {
    const cuda::GraphPlanResult& r = results[i];
    const char* op = cuda::to_string(distinct[i].kind);
    ++summary[op][r.path];
    std::cout << "{\"op\": " << json_string(op) << ", \"layer\": " << json_string(r.layer)
              << ", \"calls_per_step\": " << uses[call_key(distinct[i])] << ", \"path\": " << json_string(r.path)
              << ", \"plans_built\": " << r.plans << ", \"reason\": " << json_string(r.reason) << "}\n";
  }
  std::cout << "{\"summary\": {";
  const char* sep = "";
  for (const auto& [op, paths] : summary) {
    std::cout << sep << json_string(op) << ": {";
    const char* sep2 = "";
    for (const auto& [path, count] : paths) {
      std::cout << sep2 << json_string(path) << ": " << count;
      sep2 = ", ";
    }
    std::cout << '}';
    sep = ", ";
  }
  std::cout << "}, \"profile\": " << json_string(o.profile) << ", \"sm_version\": " << options.sm_version
            << ", \"cudnn_version\": " << cudnnGetVersion()
            << ", \"cudnn_frontend\": " << json_string(build_info::cudnn_frontend_version)
            << ", \"commit\": " << json_string(build_info::git_commit) << ", \"arch\": " << json_string(o.arch)
            << ", \"calls\": " << json_string(o.calls) << ", \"layout\": " << json_string(to_string(o.layout))
            << ", \"image\": " << o.image << ", \"batch\": " << o.batch
            << ", \"precision\": " << json_string(o.precision)
            << ", \"deterministic\": " << (o.deterministic ? "true" : "false") << "}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "cbednet-graph-plans: " << e.what() << '\n';
    return 1;
  }
}
