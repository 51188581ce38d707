// Learning-rate schedule: linear warm-up from warmup_start_factor * base_lr to base_lr over warmup_steps, then
// cosine decay to final_lr at total_steps, or step decay (multiply by gamma at each milestone step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cbednet {

struct LrSchedule {
  enum class Decay : std::uint8_t { cosine, step, constant };
  double base_lr = 0.1;
  std::int64_t warmup_steps = 0;
  double warmup_start_factor = 0.1;
  std::int64_t total_steps = 1;
  Decay decay = Decay::cosine;
  double final_lr = 0.0;                 // cosine
  std::vector<std::int64_t> milestones;  // step decay
  double gamma = 0.1;                    // step decay

  double lr(std::int64_t step) const;  // step counted from 0
  void validate() const;               // throws InvalidArgument naming the option
};

LrSchedule::Decay parse_decay(const std::string& name);  // "cosine", "step", "constant"

}  // namespace cbednet
