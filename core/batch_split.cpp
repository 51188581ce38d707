#include "core/batch_split.hpp"

#include "core/error.hpp"

namespace cbednet {

BatchSplit split_batch(std::int64_t global_batch, std::int64_t replicas, std::int64_t micro_batch, int stages) {
  CBEDNET_REQUIRE(replicas >= 1, InvalidArgument, "--grid: at least one data-parallel replica, got ", replicas);
  CBEDNET_REQUIRE(global_batch >= replicas, InvalidArgument, "--batch ", global_batch, " is smaller than the ",
                  replicas, " data-parallel replicas of --grid ", stages, "x", replicas);
  CBEDNET_REQUIRE(global_batch % replicas == 0, InvalidArgument, "--batch ", global_batch,
                  " must be a positive multiple of the ", replicas, " data-parallel replicas of --grid ", stages, "x",
                  replicas);
  CBEDNET_REQUIRE(micro_batch >= 0, InvalidArgument, "--micro-batch-size: must not be negative, got ", micro_batch);
  BatchSplit s;
  s.global = global_batch;
  s.replicas = replicas;
  s.share = global_batch / replicas;
  s.micro = micro_batch > 0 ? micro_batch : s.share;
  CBEDNET_REQUIRE(s.share % s.micro == 0, InvalidArgument, "--micro-batch-size ", s.micro,
                  " does not divide a replica's share of the batch (", s.share, " = ", global_batch, " / ", replicas,
                  ")");
  s.micro_batches = s.share / s.micro;
  return s;
}

}  // namespace cbednet
