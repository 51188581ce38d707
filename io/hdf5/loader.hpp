// DistributedLoader: each step, every replica gets its contiguous share of the global batch, read in the
// background (double buffered) while the caller computes.
//
// Reads: a packed file is read with collective HDF5 calls (H5Pset_fapl_mpio on a duplicate of the caller's
// communicator, collective metadata, H5FD_MPIO_COLLECTIVE transfer: every rank joins one H5Dread per sample slot
// of the step, one chunk = one sample each), with independent chunk I/O under them by default
// (LoaderOptions::individual_chunk_io). Batch images land in recycled buffers (BufferPool).
// SMC directories/files are read independently, one group at a time (their contiguous per-group datasets
// gain nothing from collective buffering and ranks would need the same file list open).
//
// Order: see epoch_order.hpp; the same for any number of ranks. Labels of all samples are known on every rank
// without reading pixels (labels()).
//
// Threading: MPI must be initialised with MPI_THREAD_MULTIPLE; the duplicated communicator is used only by the
// I/O thread. Every rank must construct, start_epoch() and next() in the same sequence. Abandoning an epoch
// early (start_epoch() again, or destruction) is agreed collectively: the I/O threads stop at the first step
// every rank has abandoned, so no collective read is left half-joined.
//
// Lock rule: the Debian parallel HDF5 is not thread-safe, so every HDF5 call in the process is serialised by one
// library lock (h5_lock.hpp), held for the whole of a collective read. Hence, while a loader's epoch is running
// (between start_epoch() and the end of that epoch), do not start another collective HDF5 operation in the same
// process: no second packed-file loader iterating at the same time (finish or abandon the training epoch before
// iterating a validation loader) and no parallel-HDF5 checkpoint write (do it after the epoch has ended).
// Independent HDF5 work from the main thread (labels(), an SMC reader) is safe, merely serialised.
#pragma once

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/tensor.hpp"
#include "core/train/batch_source.hpp"
#include "io/augment.hpp"
#include "io/hdf5/sample_source.hpp"

namespace cbednet::io {

struct LoaderOptions {
  std::size_t global_batch = 32;  // B; must be divisible by the communicator size
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = true;  // false: a last, smaller batch (split as evenly as possible over replicas)
  bool prefetch = true;   // background I/O thread
  // Batches read ahead of the consumer: 1 = double buffering (step t+1 is read while step t is used). More
  // absorbs jittery storage at the cost of one batch of host memory each; with a page-cached file 2 was 15-25 %
  // slower than 1 here, since more buffers in rotation fall out of the CPU caches.
  std::size_t prefetch_depth = 1;
  bool skip_bad = false;          // drop (and count) unreadable or non-finite samples instead of throwing
  std::string split = "all";      // train | dev | test | all
  bool allow_unlabelled = false;  // SourceOptions::allow_unlabelled: label 0 for a sample without space_group
  std::string dataset;            // SourceOptions::dataset and input_size: plain arrays (io/arrays/)
  int input_size = 0;
  Preprocess preprocess;  // SMC sources: everything; packed files: only the normalisation
  // Sources of many files (SMC directories) with more files than this: shuffle within groups of this many files
  // (grouped_epoch_permutation, epoch_order.hpp), so that a step touches a bounded number of files, for when the
  // files cannot all stay open (the source keeps as many open as the descriptor limit allows). 0: across all files.
  std::size_t shuffle_group_files = 0;
  // Training augmentation (io/augment.hpp), applied by the I/O thread after the read; off by default.
  Augment augment;
  // Packed files: keep the collective H5Dread calls but let each rank read its own chunk directly
  // (H5FD_MPIO_INDIVIDUAL_IO) instead of MPI-IO two-phase collective buffering, which moves every sample
  // through an aggregator rank: each chunk is one large contiguous sample, which gains nothing from
  // aggregation. With 4 ranks two-phase ran at 0.16-0.33 of the raw read rate, this at 1.1-2.4
  // (docs/data-format.md §4). false = two-phase (e.g. for file systems that want few large requests).
  bool individual_chunk_io = true;
  // Packed files: 0 reads through collective HDF5 as above. N >= 1 reads each sample's chunk with pread() on N
  // threads, at file offsets looked up once with HDF5 (io/hdf5/direct_chunks.hpp): independent, not collective,
  // and not serialised by the HDF5 library lock. Needs uncompressed chunks of one sample, as `cbednet convert`
  // writes. -1 (auto): 1 when the communicator has one rank, else 0 (docs/data-format.md §4 has the figures).
  int io_threads = -1;
};

// A batch share (core/train/batch_source.hpp): f32 host images, i32 labels (class = space_group - 1), the
// loader's sample indices, and the samples dropped as bad (skip_bad).
using Batch = cbednet::Batch;

// The training loop's BatchSource (core/train/trainer.hpp) over HDF5 files.
class DistributedLoader : public BatchSource {
 public:
  // `path`: a packed file (collective reads) or an SMC directory / file (independent reads).
  DistributedLoader(const std::string& path, MPI_Comm comm, LoaderOptions options);
  ~DistributedLoader() override;
  DistributedLoader(const DistributedLoader&) = delete;
  DistributedLoader& operator=(const DistributedLoader&) = delete;

  std::size_t size() const { return labels_.size(); }
  Shape sample_shape() const override;  // {1, C, H, W}
  std::size_t steps_per_epoch() const override;
  const std::vector<std::int16_t>& labels() const { return labels_; }  // 1..230, all samples
  bool collective() const;
  // After a read: whether HDF5 really performed it collectively (H5Pget_mpio_actual_io_mode).
  bool last_read_collective() const;
  int rank() const { return rank_; }
  int io_threads() const { return options_.io_threads; }  // resolved (never -1)
  int ranks() const { return ranks_; }
  std::string describe() const;

  // Begins epoch `epoch` (any order of epochs; resuming is start_epoch(saved)); reads at most max_steps steps.
  void start_epoch(std::uint64_t epoch, std::size_t max_steps);
  void start_epoch(std::uint64_t epoch) override { start_epoch(epoch, std::numeric_limits<std::size_t>::max()); }
  // The next batch of the current epoch, or nothing at its end. Rethrows the I/O thread's errors.
  std::optional<Batch> next() override;
  // Bad samples dropped so far (skip_bad).
  std::size_t bad_samples() const { return bad_.load(); }
  // Files and samples dropped while the source was indexed (skip_bad), one message each naming them.
  std::vector<std::string> skipped_at_open() const;

  // Reads one step synchronously on the calling thread (what the I/O thread runs). For tests and benchmarks.
  Batch read_step(std::uint64_t epoch, std::size_t step);

  class Reader;  // packed-collective or per-sample source reader (loader.cpp)

  // Image buffers of past batches, reused once the consumer has dropped every view of them: a fresh allocation
  // per step costs a page fault and a zero fill per page, a quarter of the read time against a page-cached file.
  // A handed-out buffer goes back to the free list when its last view dies (in whichever thread), under the
  // pool's mutex, which also orders the consumer's last use before the next read into it.
  class BufferPool {
   public:
    BufferPool();
    // Storage of at least `bytes` (contents unspecified) that nobody else holds; up to `kept` idle buffers are
    // kept for reuse. The storage may outlive the pool and the loader.
    std::shared_ptr<Allocation> acquire(std::size_t bytes, std::size_t kept);
    struct FreeList;  // loader.cpp

   private:
    std::shared_ptr<FreeList> free_;
  };

 private:
  void worker();
  void finish_epoch();
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  LoaderOptions options_;
  Preprocess pixel_domain_;
  std::vector<std::uint32_t>
      sample_files_;  // grouped shuffling: each sample's file; empty: a plain permutation  // what the reader's pixels
                      // are (augmentation inverts it before, applies it after)
  std::unique_ptr<Reader> reader_;
  std::vector<std::int16_t> labels_;
  int rank_ = 0, ranks_ = 1;
  std::atomic<std::size_t> bad_{0};
  BufferPool pool_;

  std::uint64_t epoch_ = 0;
  std::vector<std::int64_t> perm_;
  std::uint64_t perm_epoch_ = std::numeric_limits<std::uint64_t>::max();
  std::size_t steps_ = 0, next_step_ = 0;
  bool started_ = false;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Slot> ready_;
  bool has_job_ = false, job_done_ = true, abandon_ = false, shutdown_ = false;
  std::thread thread_;
};

}  // namespace cbednet::io
