// Bucketed, overlapped data-parallel gradient reduction for one pipeline stage (PyTorch DDP's buckets,
// Horovod's fusion): the stage's flat gradient buffer [E] is cut into buckets of about `bucket_bytes`,
// in backward order (parameters are laid out in forward order, so the last blocks' gradients are complete
// first). During the step's final backward pass the executor reports each block as done; as soon as every
// block of a bucket is done its allreduce starts (Transport::allreduce_sum: MPI_Iallreduce or ncclAllReduce),
// overlapping the remaining backward compute.
// finish() waits for all of them. The batch-norm statistic sums are reduced as one more request, started
// when the stage's last forward pass of the step has produced them.
//
// Sums over the stage's replicas; since the loss is normalised by the global batch, the sum is the serial
// gradient (up to summation order). With the MPI transport device buffers travel through host staging copies;
// with NCCL they are reduced in place on the device.
// With compute-dtype gradient copies (bf16/fp16 on GPUs) each bucket's range is copied into the master
// gradients just before its reduction starts (ParamStore::gather_compute_grads(begin, end)), so those overlap
// the backward pass too.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/stage.hpp"
#include "core/parallel/transport.hpp"

namespace cbednet {

class GradReducer {
 public:
  // transport: over the stage's data-parallel group (borrowed; may have one rank: then nothing is communicated).
  GradReducer(Stage& stage, Transport& transport, std::int64_t bucket_bytes);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Starts the batch-norm accumulator reduction (after the stage's last forward of the step).
  void start_statistics();
  // Model block `block` (first_block() <= block < last_block()) has produced its final gradients of the step.
  void block_done(std::size_t block);
  // Starts anything not started yet and waits for every transfer.
  // Returns the seconds spent waiting.
  double finish();

  std::size_t bucket_count() const { return buckets_.size(); }
  // Element ranges [begin, end) of the gradient buffer per bucket, in the order they are reduced.
  std::vector<std::pair<std::int64_t, std::int64_t>> bucket_ranges() const;

 private:
  struct Bucket {
    std::int64_t begin = 0, end = 0;  // elements of the gradient buffer
    std::size_t trigger_block = 0;    // lowest block with gradients in the bucket: once it is done, all are
    bool started = false;
    Transfer transfer;
  };
  void start(Bucket& bucket);
  void poke();

  Stage& stage_;
  Transport& transport_;
  bool active_ = false;  // more than one replica
  std::vector<Bucket> buckets_;
  Transfer stat_transfer_;
  bool stat_started_ = false;
};

}  // namespace cbednet
