#include "core/parallel/balance.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/model/stage.hpp"

namespace cbednet {

BalanceBy parse_balance(const std::string& text) {
  if (text == "macs") return BalanceBy::macs;
  if (text == "time") return BalanceBy::time;
  throw_error<InvalidArgument>("--balance '", text, "': expected macs or time");
}

Partition partition_blocks(const std::vector<double>& weights, int stages) {
  const std::size_t n = weights.size();
  if (stages < 1) throw_error<InvalidArgument>("--grid: the number of pipeline stages must be at least 1");
  if (static_cast<std::size_t>(stages) > n)
    throw_error<InvalidArgument>("--grid: ", stages, " pipeline stages, but the model has only ", n,
                                 " blocks (a stage holds at least one block); use fewer stages or a deeper model");
  std::vector<double> prefix(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    if (!(weights[i] >= 0.0)) throw_error<InvalidArgument>("pipeline balance: block ", i, " has weight ", weights[i]);
    prefix[i + 1] = prefix[i] + weights[i];
  }
  const auto P = static_cast<std::size_t>(stages);
  constexpr double inf = std::numeric_limits<double>::infinity();
  // best[k][i]: smallest possible largest part when the first i blocks form k parts; from[k][i]: its last cut.
  std::vector<std::vector<double>> best(P + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<std::size_t>> from(P + 1, std::vector<std::size_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (std::size_t k = 1; k <= P; ++k)
    for (std::size_t i = k; i <= n - (P - k); ++i)
      for (std::size_t j = k - 1; j < i; ++j) {
        const double cost = std::max(best[k - 1][j], prefix[i] - prefix[j]);
        if (cost < best[k][i]) {
          best[k][i] = cost;
          from[k][i] = j;
        }
      }
  Partition out;
  out.cuts.assign(P + 1, 0);
  out.cuts[P] = n;
  for (std::size_t k = P; k > 0; --k) out.cuts[k - 1] = from[k][out.cuts[k]];
  for (std::size_t k = 0; k < P; ++k) out.stage_weight.push_back(prefix[out.cuts[k + 1]] - prefix[out.cuts[k]]);
  const double ideal = prefix[n] / static_cast<double>(P);
  out.max_over_ideal = ideal > 0 ? *std::max_element(out.stage_weight.begin(), out.stage_weight.end()) / ideal : 1.0;
  return out;
}

std::vector<double> block_macs(const Model& model) {
  std::vector<double> w;
  for (const auto& info : model.info()) w.push_back(static_cast<double>(info.cost.forward_macs));
  return w;
}

BlockCosts block_mac_costs(const Model& model) {
  BlockCosts c;
  for (const double macs : block_macs(model)) {
    c.forward.push_back(macs / 3.0);
    c.backward.push_back(macs - macs / 3.0);
  }
  return c;
}

std::vector<double> training_weights(const BlockCosts& costs, const std::vector<char>& recompute) {
  CBEDNET_REQUIRE(costs.forward.size() == costs.backward.size(), InvalidArgument,
                  "pipeline balance: ", costs.forward.size(), " forward costs but ", costs.backward.size(),
                  " backward costs");
  CBEDNET_REQUIRE(recompute.empty() || recompute.size() == costs.forward.size(), InvalidArgument,
                  "pipeline balance: ", recompute.size(), " recomputation flags for ", costs.forward.size(), " blocks");
  std::vector<double> w(costs.forward.size());
  for (std::size_t b = 0; b < w.size(); ++b)
    w[b] = costs.forward[b] + costs.backward[b] + (!recompute.empty() && recompute[b] != 0 ? costs.forward[b] : 0.0);
  return w;
}

namespace {

// Every block's flag when each stage of `cuts` chooses its own.
std::vector<char> recompute_flags(const std::vector<std::size_t>& cuts, const RecomputeChooser& choose) {
  std::vector<char> flags;
  for (std::size_t s = 0; s + 1 < cuts.size(); ++s) {
    const std::vector<char> stage = choose(cuts[s], cuts[s + 1], static_cast<int>(s));
    CBEDNET_REQUIRE(stage.size() == cuts[s + 1] - cuts[s], InvalidArgument, "pipeline balance: stage ", s, " has ",
                    cuts[s + 1] - cuts[s], " blocks but ", stage.size(), " recomputation flags");
    flags.insert(flags.end(), stage.begin(), stage.end());
  }
  return flags;
}

// `cuts` with every stage's weight under `weights`.
Partition evaluate_cuts(const std::vector<std::size_t>& cuts, const std::vector<double>& weights) {
  Partition p;
  p.cuts = cuts;
  double total = 0;
  for (std::size_t s = 0; s + 1 < cuts.size(); ++s) {
    double sum = 0;
    for (std::size_t b = cuts[s]; b < cuts[s + 1]; ++b) sum += weights[b];
    p.stage_weight.push_back(sum);
    total += sum;
  }
  const double ideal = total / static_cast<double>(p.stage_weight.size());
  p.max_over_ideal = ideal > 0 ? *std::max_element(p.stage_weight.begin(), p.stage_weight.end()) / ideal : 1.0;
  return p;
}

}  // namespace

Partition partition_with_recompute(const BlockCosts& costs, int stages, const RecomputeChooser& choose,
                                   std::vector<char>* recompute) {
  std::vector<char> flags;  // the first round: no recomputation
  Partition best;
  std::vector<char> best_flags;
  double best_slowest = std::numeric_limits<double>::infinity();
  std::vector<std::vector<std::size_t>> seen;
  for (int round = 0; round < 8; ++round) {
    const std::vector<std::size_t> cuts = partition_blocks(training_weights(costs, flags), stages).cuts;
    if (std::find(seen.begin(), seen.end(), cuts) != seen.end()) break;  // a fixed point, or a cycle
    seen.push_back(cuts);
    flags = recompute_flags(cuts, choose);
    const Partition p = evaluate_cuts(cuts, training_weights(costs, flags));
    const double slowest = *std::max_element(p.stage_weight.begin(), p.stage_weight.end());
    if (slowest < best_slowest) {
      best_slowest = slowest;
      best = p;
      best_flags = flags;
    }
  }
  if (recompute != nullptr) *recompute = best_flags;
  return best;
}

BlockCosts measure_block_times(Backend& backend, const ResNetSpec& spec, std::int64_t micro_batch, std::uint64_t seed,
                               int repeats, BlockStatistic statistic) {
  CBEDNET_REQUIRE(micro_batch >= 1, InvalidArgument, "--balance time: the micro-batch size must be at least 1");
  Model model = build_resnet(spec);
  Stage stage(backend, model, 0, model.size(), seed);
  const std::size_t n = model.size();
  Tensor host(model.input_shape(micro_batch), DType::f64);
  const RandomStream stream(seed, RngPurpose::test);
  for (std::int64_t i = 0; i < host.count(); ++i) host.data<double>()[i] = stream.normal(static_cast<std::uint64_t>(i));
  Tensor x = backend.allocate(host.shape());
  backend.copy(host, x);
  using clock = std::chrono::steady_clock;
  constexpr double inf = std::numeric_limits<double>::infinity();
  BlockCosts best{std::vector<double>(n, inf), std::vector<double>(n, inf)};
  std::vector<std::vector<double>> forward_runs(n), backward_runs(n);
  for (int r = 0; r < repeats + 1; ++r) {
    std::vector<double> forward(n, 0.0), backward(n, 0.0);
    std::vector<std::unique_ptr<BlockContext>> ctx(n);
    std::vector<Tensor> outputs;
    const PassInfo pass{Mode::train, seed, 0, 0};
    Tensor h = x.view();
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = clock::now();
      h = model.block(i).forward(backend, h, pass, &ctx[i]);
      backend.synchronize();
      forward[i] = std::chrono::duration<double>(clock::now() - start).count();
    }
    Tensor g = backend.allocate(h.shape());
    backend.fill(g, 1.0 / static_cast<double>(h.count()));
    for (std::size_t i = n; i-- > 0;) {
      const auto start = clock::now();
      g = model.block(i).backward(backend, g, *ctx[i], i > 0);
      backend.synchronize();
      backward[i] = std::chrono::duration<double>(clock::now() - start).count();
      ctx[i].reset();
    }
    if (r > 0)  // the first run pays for allocations and caches
      for (std::size_t i = 0; i < n; ++i) {
        forward_runs[i].push_back(forward[i]);
        backward_runs[i].push_back(backward[i]);
      }
  }
  const auto pick = [statistic](std::vector<double>& runs) {
    std::sort(runs.begin(), runs.end());
    return statistic == BlockStatistic::minimum ? runs.front() : runs[runs.size() / 2];
  };
  for (std::size_t i = 0; i < n; ++i) {
    best.forward[i] = pick(forward_runs[i]);
    best.backward[i] = pick(backward_runs[i]);
  }
  return best;
}

}  // namespace cbednet
