#include "io/hdf5/loader.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <set>

#include "core/parallel/mpi_comm.hpp"
#include "io/arrays/array_source.hpp"
#include "io/hdf5/direct_chunks.hpp"
#include "io/hdf5/epoch_order.hpp"
#include "io/hdf5/h5_handle.hpp"
#include "io/hdf5/h5_lock.hpp"
#include "io/hdf5/packed_file.hpp"

namespace cbednet::io {

class DistributedLoader::Reader {
 public:
  explicit Reader(MPI_Comm comm) : comm_(duplicate_comm(comm, "MPI_Comm_dup (loader)")) {}
  virtual ~Reader() = default;
  virtual std::size_t size() const = 0;
  virtual Shape sample_shape() const = 0;
  virtual int label(std::size_t i) const = 0;
  virtual bool collective() const = 0;
  virtual std::string describe() const = 0;
  // Each sample's file for sources of several files (grouped shuffling); empty otherwise.
  virtual std::vector<std::uint32_t> sample_files() const { return {}; }
  // How the pixels that read() returns were preprocessed (for augmentation, which works before normalisation).
  virtual Preprocess pixel_domain() const = 0;
  // Files and samples dropped at open (skip_bad), one message each.
  virtual std::vector<std::string> skipped_at_open() const { return {}; }
  // Whether the last read really went collective (HDF5 may silently fall back to independent I/O).
  virtual bool last_read_collective() const { return false; }
  // Samples `indices` (batch order) into out[k*C*H*W]; with skip_bad a bad sample gets ok[j] = 0 instead of a throw.
  // `calls`: the largest share of any rank this step (collective readers make that many collective calls).
  virtual void read(const std::vector<std::int64_t>& indices, float* out, std::vector<char>& ok, bool skip_bad,
                    std::size_t calls) = 0;
  MPI_Comm comm() const { return comm_.get(); }

 private:
  MpiComm comm_;  // a duplicate, so the I/O thread has a communicator no other code sends on
};

namespace {

bool all_finite(const float* x, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j)
    if (!std::isfinite(x[j])) return false;
  return true;
}

// Packed layout, collective MPI-IO.
class PackedCollectiveReader final : public DistributedLoader::Reader {
 public:
  PackedCollectiveReader(const std::string& path, MPI_Comm comm, const LoaderOptions& options)
      : Reader(comm), pre_(options.preprocess) {
    std::lock_guard lock(h5::library_mutex());
    const std::string ctx = h5::where(path);
    const auto fapl = h5::make_plist(H5P_FILE_ACCESS, ctx);
    h5::check(H5Pset_fapl_mpio(fapl.get(), this->comm(), MPI_INFO_NULL), ctx, "H5Pset_fapl_mpio");
    h5::check(H5Pset_all_coll_metadata_ops(fapl.get(), true), ctx, "H5Pset_all_coll_metadata_ops");
    file_ = h5::open_file_readonly(path, fapl.get());
    info_ = read_packed_info(file_.get(), path);
    images_ = h5::open_dataset(file_.get(), "images", ctx);
    xfer_ = h5::make_plist(H5P_DATASET_XFER, ctx);
    h5::check(H5Pset_dxpl_mpio(xfer_.get(), H5FD_MPIO_COLLECTIVE), ctx, "H5Pset_dxpl_mpio");
    if (options.individual_chunk_io)
      h5::check(H5Pset_dxpl_mpio_collective_opt(xfer_.get(), H5FD_MPIO_INDIVIDUAL_IO), ctx,
                "H5Pset_dxpl_mpio_collective_opt");
    const Split wanted = parse_split(options.split);
    for (std::size_t i = 0; i < info_.n; ++i)
      if (wanted == Split::unknown || info_.split[i] == static_cast<std::int8_t>(wanted))
        index_.push_back(static_cast<std::int64_t>(i));
    if (index_.empty()) throw_error<IoError>(ctx, ": no samples of split ", options.split);
    if (options.io_threads > 0)
      direct_ = std::make_unique<DirectChunkReader>(file_.get(), images_.get(), info_, options.io_threads);
    CBEDNET_REQUIRE(pre_.mean.empty() || static_cast<std::int64_t>(pre_.mean.size()) == info_.sample.c, InvalidArgument,
                    ctx, ": normalisation has ", pre_.mean.size(), " channels, the file has ", info_.sample.c);
  }

  std::size_t size() const override { return index_.size(); }
  Shape sample_shape() const override { return info_.sample; }
  int label(std::size_t i) const override { return info_.labels[static_cast<std::size_t>(index_[i])]; }
  bool collective() const override { return direct_ == nullptr; }
  std::string describe() const override {
    return "packed file " + info_.path +
           (direct_ ? " (direct chunk reads, " + std::to_string(direct_->threads()) + " threads)"
                    : " (collective MPI-IO)");
  }
  bool last_read_collective() const override { return last_collective_; }
  Preprocess pixel_domain() const override {
    Preprocess domain = info_.preprocessing.empty() ? Preprocess{} : Preprocess::parse(info_.preprocessing);
    domain.mean = pre_.mean;
    domain.stddev = pre_.stddev;
    return domain;
  }

  void read(const std::vector<std::int64_t>& indices, float* out, std::vector<char>& ok, bool skip_bad,
            std::size_t calls) override {
    const auto per = info_.sample.per_sample();
    std::vector<std::int64_t> file_indices(indices.size());
    for (std::size_t j = 0; j < indices.size(); ++j) file_indices[j] = index_[static_cast<std::size_t>(indices[j])];
    if (direct_) {
      direct_->read(file_indices, out);
      last_collective_ = false;
    } else {
      std::lock_guard lock(h5::library_mutex());
      read_packed_images(images_.get(), info_, file_indices, out, xfer_.get(), half_, calls);
      H5D_mpio_actual_io_mode_t mode = H5D_MPIO_NO_COLLECTIVE;
      last_collective_ = H5Pget_mpio_actual_io_mode(xfer_.get(), &mode) >= 0 && mode != H5D_MPIO_NO_COLLECTIVE;
    }
    for (std::size_t j = 0; j < indices.size(); ++j) {
      float* x = out + j * per;
      if (skip_bad && !all_finite(x, per)) {
        ok[j] = 0;
        continue;
      }
      normalise(pre_, x, static_cast<int>(info_.sample.c), info_.sample.h * info_.sample.w);
    }
  }

 private:
  Preprocess pre_;
  h5::Handle file_, images_, xfer_;
  PackedInfo info_;
  std::unique_ptr<DirectChunkReader> direct_;
  std::vector<std::int64_t> index_;
  std::vector<std::uint16_t> half_;
  bool last_collective_ = false;
};

// SMC directory / file (or anything open_source reads), one independent read per sample.
class SourceReader final : public DistributedLoader::Reader {
 public:
  SourceReader(const std::string& path, MPI_Comm comm, const LoaderOptions& options)
      : Reader(comm),
        source_(open_source(path, SourceOptions{.split = options.split,
                                                .preprocess = options.preprocess,
                                                .skip_bad = options.skip_bad,
                                                .allow_unlabelled = options.allow_unlabelled,
                                                .dataset = options.dataset,
                                                .input_size = options.input_size})),
        pre_(options.preprocess) {}
  std::size_t size() const override { return source_->size(); }
  Shape sample_shape() const override { return source_->sample_shape(); }
  int label(std::size_t i) const override { return source_->label(i); }
  bool collective() const override { return false; }
  std::string describe() const override { return source_->describe() + " (independent reads)"; }
  Preprocess pixel_domain() const override { return pre_; }
  std::vector<std::uint32_t> sample_files() const override { return source_->sample_files(); }
  std::vector<std::string> skipped_at_open() const override { return source_->skipped_reasons(); }
  void read(const std::vector<std::int64_t>& indices, float* out, std::vector<char>& ok, bool skip_bad,
            std::size_t) override {
    const auto per = source_->sample_shape().per_sample();
    for (std::size_t j = 0; j < indices.size(); ++j) {
      try {
        source_->read(static_cast<std::size_t>(indices[j]), out + j * per);
      } catch (const IoError&) {
        if (!skip_bad) throw;
        ok[j] = 0;
      }
    }
  }

 private:
  std::unique_ptr<SampleSource> source_;
  Preprocess pre_;
};

}  // namespace

DistributedLoader::DistributedLoader(const std::string& path, MPI_Comm comm, LoaderOptions options)
    : options_(std::move(options)) {
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &ranks_);
  CBEDNET_REQUIRE(options_.prefetch_depth >= 1, InvalidArgument, "loader: prefetch depth must be at least 1");
  CBEDNET_REQUIRE(options_.global_batch > 0 && options_.global_batch % static_cast<std::size_t>(ranks_) == 0,
                  InvalidArgument, "loader: the global batch ", options_.global_batch,
                  " must be a positive multiple of the ", ranks_, " replicas");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_error<IoError>("path ", path, ": does not exist");
  const bool packed = !std::filesystem::is_directory(path, ec) && options_.dataset.empty() &&
                      !is_array_input(path, SourceOptions{}) && is_packed_file(path);
  // Auto: on one rank a collective call gains nothing and costs HDF5's overhead per sample (0.77 of the raw rate
  // against 1.07 for direct reads, docs/data-format.md §4); with several ranks the collective path stays.
  if (options_.io_threads < 0) options_.io_threads = ranks_ == 1 ? 1 : 0;
  if (packed)
    reader_ = std::make_unique<PackedCollectiveReader>(path, comm, options_);
  else
    reader_ = std::make_unique<SourceReader>(path, comm, options_);
  if (options_.augment.enabled()) {
    const Shape s = reader_->sample_shape();
    CBEDNET_REQUIRE(s.h == s.w, InvalidArgument, "augmentation: samples of ", path, " are ", s.h, "x", s.w,
                    ", not square");
    options_.augment.validate(static_cast<int>(s.h));
    pixel_domain_ = reader_->pixel_domain();
  }
  if (options_.shuffle && options_.shuffle_group_files > 0) {
    std::vector<std::uint32_t> files = reader_->sample_files();
    const std::set<std::uint32_t> distinct(files.begin(), files.end());
    if (distinct.size() > options_.shuffle_group_files) sample_files_ = std::move(files);
  }
  labels_.resize(reader_->size());
  for (std::size_t i = 0; i < labels_.size(); ++i) labels_[i] = static_cast<std::int16_t>(reader_->label(i));
  CBEDNET_REQUIRE(steps_per_epoch() > 0, InvalidArgument, "loader: the global batch ", options_.global_batch,
                  " is larger than the ", size(), " samples of ", path);
  if (options_.prefetch) thread_ = std::thread([this] { worker(); });
}

DistributedLoader::~DistributedLoader() {
  if (!thread_.joinable()) return;
  finish_epoch();
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Shape DistributedLoader::sample_shape() const { return reader_->sample_shape(); }
bool DistributedLoader::collective() const { return reader_->collective(); }
bool DistributedLoader::last_read_collective() const { return reader_->last_read_collective(); }
std::string DistributedLoader::describe() const {
  return reader_->describe() + (sample_files_.empty() ? std::string()
                                                      : ", shuffled within groups of " +
                                                            std::to_string(options_.shuffle_group_files) + " files");
}
std::size_t DistributedLoader::steps_per_epoch() const {
  return io::steps_per_epoch(size(), options_.global_batch, options_.drop_last);
}

Batch DistributedLoader::read_step(std::uint64_t epoch, std::size_t step) {
  if (perm_epoch_ != epoch) {
    perm_ = sample_files_.empty()
                ? epoch_permutation(size(), options_.seed, epoch, options_.shuffle)
                : grouped_epoch_permutation(sample_files_, options_.shuffle_group_files, options_.seed, epoch);
    perm_epoch_ = epoch;
  }
  const auto [first, last] = replica_share(size(), options_.global_batch, step, rank_, ranks_);
  Batch batch;
  batch.epoch = epoch;
  batch.step = step;
  batch.indices.assign(perm_.begin() + static_cast<std::ptrdiff_t>(first),
                       perm_.begin() + static_cast<std::ptrdiff_t>(last));
  Shape shape = sample_shape();
  shape.n = static_cast<std::int64_t>(batch.indices.size());
  batch.images =
      Tensor(shape, DType::f32, Layout::nchw,
             // the ready batches, the one being consumed and the one being read
             pool_.acquire(static_cast<std::size_t>(shape.count()) * sizeof(float), options_.prefetch_depth + 2));
  std::vector<char> ok(batch.indices.size(), 1);
  std::size_t calls = 0;
  for (int d = 0; d < ranks_; ++d) {
    const auto [b, e] = replica_share(size(), options_.global_batch, step, d, ranks_);
    calls = std::max(calls, e - b);
  }
  reader_->read(batch.indices, batch.images.data<float>(), ok, options_.skip_bad, calls);

  const auto kept = static_cast<std::size_t>(std::count(ok.begin(), ok.end(), 1));
  if (kept != ok.size()) {  // compact: bad samples leave the batch and are counted
    const auto per = shape.per_sample();
    Shape small = shape;
    small.n = static_cast<std::int64_t>(kept);
    Tensor images(small, DType::f32);
    std::vector<std::int64_t> indices;
    for (std::size_t j = 0; j < ok.size(); ++j) {
      if (!ok[j]) continue;
      std::memcpy(images.data<float>() + indices.size() * per, batch.images.data<float>() + j * per,
                  static_cast<std::size_t>(per) * sizeof(float));
      indices.push_back(batch.indices[j]);
    }
    batch.skipped = ok.size() - kept;
    bad_ += batch.skipped;
    batch.images = std::move(images);
    batch.indices = std::move(indices);
  }
  batch.labels = Tensor(Shape{static_cast<std::int64_t>(batch.indices.size()), 1, 1, 1}, DType::i32);
  auto* labels = batch.labels.data<std::int32_t>();
  for (std::size_t j = 0; j < batch.indices.size(); ++j)
    labels[j] = labels_[static_cast<std::size_t>(batch.indices[j])] - 1;
  if (options_.augment.enabled()) {
    const Shape s = batch.images.shape();
    for (std::size_t j = 0; j < batch.indices.size(); ++j)
      augment_sample(options_.augment, pixel_domain_, options_.seed, epoch, batch.indices[j],
                     batch.images.data<float>() + static_cast<std::int64_t>(j) * s.per_sample(), static_cast<int>(s.c),
                     static_cast<int>(s.h));
  }
  return batch;
}

struct DistributedLoader::BufferPool::FreeList {
  std::mutex mutex;
  std::vector<std::shared_ptr<Allocation>> idle;
};

namespace {

// A pool buffer lent out: the views of one batch share it; its end returns the buffer to the free list.
class LentBuffer final : public Allocation {
 public:
  LentBuffer(std::shared_ptr<Allocation> buffer, std::shared_ptr<DistributedLoader::BufferPool::FreeList> free,
             std::size_t kept)
      : buffer_(std::move(buffer)), free_(std::move(free)), kept_(kept) {}
  ~LentBuffer() override {
    std::lock_guard lock(free_->mutex);
    if (free_->idle.size() < kept_) free_->idle.push_back(std::move(buffer_));
  }
  LentBuffer(const LentBuffer&) = delete;
  LentBuffer& operator=(const LentBuffer&) = delete;
  void* data() override { return buffer_->data(); }
  std::size_t bytes() const override { return buffer_->bytes(); }
  Device device() const override { return Device::host; }

 private:
  std::shared_ptr<Allocation> buffer_;
  std::shared_ptr<DistributedLoader::BufferPool::FreeList> free_;
  std::size_t kept_;
};

}  // namespace

DistributedLoader::BufferPool::BufferPool() : free_(std::make_shared<FreeList>()) {}

std::shared_ptr<Allocation> DistributedLoader::BufferPool::acquire(std::size_t bytes, std::size_t kept) {
  std::shared_ptr<Allocation> buffer;
  {
    std::lock_guard lock(free_->mutex);
    auto& idle = free_->idle;
    // The most recently returned buffer first: its bytes are the likeliest still in the CPU caches.
    const auto fits = std::find_if(idle.rbegin(), idle.rend(), [&](const auto& b) { return b->bytes() >= bytes; });
    if (fits != idle.rend()) {
      buffer = std::move(*fits);
      idle.erase(std::next(fits).base());
    } else if (!idle.empty() && idle.size() >= kept) {
      idle.erase(idle.begin());  // the batch grew: an idle buffer too small to use makes room
    }
  }
  if (!buffer) buffer = allocate_host(bytes);
  return std::make_shared<LentBuffer>(std::move(buffer), free_, kept);
}

void DistributedLoader::worker() {
  for (;;) {
    std::uint64_t epoch = 0;
    std::size_t steps = 0;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return has_job_ || shutdown_; });
      if (!has_job_) return;
      has_job_ = false;
      epoch = epoch_;
      steps = steps_;
    }
    for (std::size_t t = 0; t < steps; ++t) {
      int stop = 0;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return ready_.size() < options_.prefetch_depth || abandon_; });
        stop = abandon_ ? 1 : 0;
      }
      // Stop only at a step every rank has abandoned, so all ranks join the same collective reads.
      MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MIN, reader_->comm());
      if (stop != 0) break;
      Slot slot;
      try {
        slot.batch = read_step(epoch, t);
      } catch (...) {
        slot.error = std::current_exception();
      }
      const bool failed = slot.error != nullptr;
      {
        std::lock_guard lock(mutex_);
        if (!abandon_) ready_.push_back(std::move(slot));
      }
      cv_.notify_all();
      if (failed) break;
    }
    {
      std::lock_guard lock(mutex_);
      job_done_ = true;
    }
    cv_.notify_all();
  }
}

void DistributedLoader::finish_epoch() {
  if (!thread_.joinable()) return;
  std::unique_lock lock(mutex_);
  abandon_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return job_done_; });
  ready_.clear();
  abandon_ = false;
}

void DistributedLoader::start_epoch(std::uint64_t epoch, std::size_t max_steps) {
  finish_epoch();
  const std::size_t steps = std::min(steps_per_epoch(), max_steps);
  started_ = true;
  next_step_ = 0;
  if (!thread_.joinable()) {
    epoch_ = epoch;
    steps_ = steps;
    return;
  }
  {
    std::lock_guard lock(mutex_);
    epoch_ = epoch;
    steps_ = steps;
    has_job_ = true;
    job_done_ = false;
  }
  cv_.notify_all();
}

std::optional<Batch> DistributedLoader::next() {
  CBEDNET_REQUIRE(started_, Error, "loader: next() before start_epoch()");
  if (!thread_.joinable()) {
    if (next_step_ >= steps_) return std::nullopt;
    return read_step(epoch_, next_step_++);
  }
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return !ready_.empty() || job_done_; });
  if (ready_.empty()) return std::nullopt;
  Slot slot = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  ++next_step_;
  return std::move(slot.batch);
}

std::vector<std::string> DistributedLoader::skipped_at_open() const { return reader_->skipped_at_open(); }

}  // namespace cbednet::io
