#include "core/optim/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.hpp"

namespace cbednet {

double LrSchedule::lr(std::int64_t step) const {
  if (step < warmup_steps) {
    const double t = static_cast<double>(step) / static_cast<double>(warmup_steps);
    return base_lr * (warmup_start_factor + (1.0 - warmup_start_factor) * t);
  }
  switch (decay) {
    case Decay::constant:
      return base_lr;
    case Decay::step: {
      const auto passed =
          std::count_if(milestones.begin(), milestones.end(), [&](std::int64_t m) { return step >= m; });
      return base_lr * std::pow(gamma, static_cast<double>(passed));
    }
    case Decay::cosine: {
      const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
      const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
      return final_lr + 0.5 * (base_lr - final_lr) * (1.0 + std::cos(std::numbers::pi * t));
    }
  }
  return base_lr;
}

void LrSchedule::validate() const {
  if (!(base_lr > 0)) throw_error<InvalidArgument>("--lr: must be positive, got ", base_lr);
  if (warmup_steps < 0) throw_error<InvalidArgument>("--warmup: must not be negative");
  if (!(warmup_start_factor >= 0 && warmup_start_factor <= 1))
    throw_error<InvalidArgument>("warm-up start factor must be in [0, 1], got ", warmup_start_factor);
  if (!(final_lr >= 0)) throw_error<InvalidArgument>("--final-lr: must not be negative");
  if (!(gamma > 0)) throw_error<InvalidArgument>("--lr-gamma: must be positive");
}

LrSchedule::Decay parse_decay(const std::string& name) {
  if (name == "cosine") return LrSchedule::Decay::cosine;
  if (name == "step") return LrSchedule::Decay::step;
  if (name == "constant") return LrSchedule::Decay::constant;
  throw_error<InvalidArgument>("--lr-decay: unknown schedule '", name, "' (expected cosine, step or constant)");
}

}  // namespace cbednet
