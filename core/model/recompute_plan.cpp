#include "core/model/recompute_plan.hpp"

#include <algorithm>
#include <numeric>

namespace cbednet {

RecomputePlan plan_recompute(const Model& model, std::size_t first, std::size_t last, std::int64_t micro,
                             std::int64_t in_flight, double element_bytes, double budget_bytes) {
  CBEDNET_REQUIRE(first < last && last <= model.size() && micro > 0 && in_flight > 0, InvalidArgument,
                  "recompute plan: invalid stage or micro-batch");
  const double scale = static_cast<double>(micro) * static_cast<double>(in_flight) * element_bytes;
  const std::size_t n = last - first;
  std::vector<double> kept(n), recomputed(n);
  for (std::size_t k = 0; k < n; ++k) {
    const BlockInfo& info = model.info()[first + k];
    Shape input = info.input;
    input.n = 1;
    kept[k] = static_cast<double>(info.cost.saved_elements) * scale;
    recomputed[k] = static_cast<double>(input.count()) * scale;
  }
  RecomputePlan plan;
  plan.recompute.assign(n, 0);
  plan.none_bytes = std::accumulate(kept.begin(), kept.end(), 0.0);
  plan.kept_bytes = plan.none_bytes;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return kept[a] - recomputed[a] > kept[b] - recomputed[b]; });
  for (const std::size_t k : order) {
    if (plan.kept_bytes <= budget_bytes) break;
    if (kept[k] <= recomputed[k]) continue;  // recomputing would free nothing
    plan.recompute[k] = 1;
    plan.kept_bytes -= kept[k] - recomputed[k];
  }
  const double gib = 1024.0 * 1024.0 * 1024.0;
  CBEDNET_REQUIRE(plan.kept_bytes <= budget_bytes, InvalidArgument, "--activation-memory-gb ", budget_bytes / gib,
                  ": cannot fit blocks ", model.info()[first].name, " .. ", model.info()[last - 1].name,
                  " even recomputing every block (their inputs alone take ", plan.kept_bytes / gib, " GiB for ",
                  in_flight, " micro-batches of ", micro,
                  "); raise the budget, lower --micro-batch-size or use more pipeline stages");
  return plan;
}

}  // namespace cbednet
