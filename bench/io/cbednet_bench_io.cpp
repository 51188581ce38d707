// cbednet_bench_io: images/s and GB/s of the DistributedLoader (collective MPI-IO on the packed layout, prefetch
// on) against the raw sequential read rate of the same file, measured in the same run with plain read().
//
//   mpiexec -n R cbednet_bench_io [--file packed.h5] [--samples N] [--size S] [--batch B] [--epochs E] [--cold]
//   [--keep] [--individual | --two-phase]
//                   [--no-prefetch] [--depth D] [--io-threads T]
//
// Without --file, rank 0 writes a packed float32 file of N samples of 3xSxS into $TMPDIR first (removed at the
// end). --cold drops the file's pages from the page cache (posix_fadvise DONTNEED) before each measurement;
// otherwise both measurements run from a warm cache (the file is read once first). Prints one JSON object;
// `fraction_of_raw` is against 8 MiB read()s into one buffer, `fraction_of_raw_into_batch_buffers` against read()s
// into two buffers of one rank's batch share, used in turn (the memory traffic any loader has).
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/parse_number.hpp"
#include "core/rng.hpp"
#include "io/hdf5/loader.hpp"
#include "io/hdf5/packed_file.hpp"
#include "io/hdf5/sample_source.hpp"

namespace {

using cbednet::io::DistributedLoader;
using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY)) {
    if (fd < 0) cbednet::throw_error<cbednet::IoError>("file ", path, ": cannot open for reading");
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

void drop_cache(const std::string& path) {
  Fd f(path);
  ::fdatasync(f.fd);
  ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED);
}

// Seconds and bytes of one plain sequential read() of the whole file, in 8 MiB requests into `buffers` (one 8 MiB
// buffer: the classic `dd bs=8M` reference; or buffers of a batch's size used in turn, which is what any loader
// must write: their bytes fall out of the CPU caches as a loader's batches do).
std::pair<double, double> raw_read(const std::string& path, std::vector<std::vector<char>>& buffers) {
  Fd f(path);
  double bytes = 0;
  std::size_t which = 0, at = 0;
  const auto t0 = Clock::now();
  for (;;) {
    auto& buffer = buffers[which];
    const std::size_t want = std::min<std::size_t>(8 << 20, buffer.size() - at);
    const ssize_t n = ::read(f.fd, buffer.data() + at, want);
    if (n < 0) cbednet::throw_error<cbednet::IoError>("file ", path, ": read failed");
    if (n == 0) break;
    bytes += static_cast<double>(n);
    at += static_cast<std::size_t>(n);
    if (at == buffer.size()) at = 0, which = (which + 1) % buffers.size();
  }
  return {std::chrono::duration<double>(Clock::now() - t0).count(), bytes};
}

void write_file(const std::string& path, std::size_t n, int S) {
  cbednet::io::PackedFileWriter writer(path, n, cbednet::Shape{1, 3, S, S}, cbednet::io::PackedDType::f32);
  const cbednet::RandomStream rng(3, cbednet::RngPurpose::test);
  std::vector<float> sample(3 * static_cast<std::size_t>(S) * S);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < sample.size(); ++j) sample[j] = static_cast<float>(rng.uniform(i, j));
    writer.write(i, sample.data(), 1 + static_cast<int>(i % 230), -1, cbednet::io::Split::train);
  }
  writer.set_attribute("creator", "cbednet_bench_io");
  writer.commit({});
}

// A barrier that sleeps instead of spinning (Open MPI busy-polls in blocking collectives).
void quiet_barrier() {
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done != 0) return;
    ::usleep(1000);
  }
}

struct BenchOptions {
  std::string file;  // empty: rank 0 writes a generated file
  std::size_t samples = 256, batch = 16, depth = 1;
  int size = 256, epochs = 2;
  bool cold = false, keep = false, individual = true, prefetch = true;
  int io_threads = -1;  // the loader's default (auto)
};

BenchOptions parse_arguments(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) cbednet::throw_error<cbednet::InvalidArgument>(a, ": missing value");
      return argv[++i];
    };
    const auto count = [&](long long least) {
      return static_cast<std::size_t>(cbednet::parse_whole_number(a, value(), least));
    };
    const auto integer = [&](long long least) {
      return static_cast<int>(cbednet::parse_whole_number(a, value(), least));
    };
    if (a == "--file")
      o.file = value();
    else if (a == "--samples")
      o.samples = count(1);
    else if (a == "--size")
      o.size = integer(1);
    else if (a == "--batch")
      o.batch = count(1);
    else if (a == "--epochs")
      o.epochs = integer(1);
    else if (a == "--depth")
      o.depth = count(1);
    else if (a == "--io-threads")
      o.io_threads = integer(-1);
    else if (a == "--cold")
      o.cold = true;
    else if (a == "--keep")
      o.keep = true;
    else if (a == "--individual")
      o.individual = true;
    else if (a == "--two-phase")
      o.individual = false;
    else if (a == "--no-prefetch")
      o.prefetch = false;
    else
      cbednet::throw_error<cbednet::InvalidArgument>("unknown option ", a);
  }
  return o;
}

// The raw sequential rates, measured by rank 0 alone and broadcast: seconds of the 8 MiB reads and of the reads into
// batch buffers, and the bytes of one pass.
struct RawRates {
  double seconds = 0, batch_seconds = 0, bytes = 0;
};

RawRates measure_raw(const BenchOptions& o, const std::string& file, int rank, int ranks) {
  // The same file, read as many times as the loader reads it (one pass of a page-cached file takes tens of
  // milliseconds: a single pass would make the reference a coin toss).
  RawRates raw;
  if (rank == 0) {
    std::vector<std::vector<char>> dd(1, std::vector<char>(8 << 20, 1));
    // two touched buffers of one rank's share of a batch, as the loader's double buffering uses
    const std::size_t share = std::max<std::size_t>(1, o.batch / static_cast<std::size_t>(ranks));
    const auto sample_floats = static_cast<std::size_t>(cbednet::io::open_source(file)->sample_shape().per_sample());
    std::vector<std::vector<char>> batches(2, std::vector<char>(share * sample_floats * sizeof(float), 1));
    if (!o.cold) raw_read(file, dd);  // warm the cache for both measurements
    for (int e = 0; e < o.epochs; ++e) {
      if (o.cold) drop_cache(file);
      const auto [s, b] = raw_read(file, dd);
      raw.seconds += s;
      raw.bytes += b;
      if (o.cold) drop_cache(file);
      raw.batch_seconds += raw_read(file, batches).first;
    }
  }
  quiet_barrier();  // the other ranks must not spin on a core while rank 0 measures
  MPI_Bcast(&raw.seconds, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Bcast(&raw.batch_seconds, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Bcast(&raw.bytes, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return raw;
}

// What this rank's loader did over every epoch.
struct LoaderRun {
  double seconds = 0;
  std::size_t images = 0, steps = 0;
  std::int64_t per_sample = 0;
  bool all_collective = true;
  int io_threads = 0;
};

LoaderRun measure_loader(const BenchOptions& o, const std::string& file, int rank) {
  cbednet::io::LoaderOptions options;
  options.global_batch = o.batch;
  options.seed = 1;
  options.individual_chunk_io = o.individual;
  options.prefetch = o.prefetch;
  options.prefetch_depth = o.depth;
  options.io_threads = o.io_threads;
  LoaderRun run;
  DistributedLoader loader(file, MPI_COMM_WORLD, options);
  run.per_sample = loader.sample_shape().per_sample();
  run.io_threads = loader.io_threads();
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = Clock::now();
  for (int e = 0; e < o.epochs; ++e) {
    if (o.cold && e > 0 && rank == 0) drop_cache(file);
    loader.start_epoch(static_cast<std::uint64_t>(e));
    while (auto b = loader.next()) {
      run.images += static_cast<std::size_t>(b->images.shape().n);
      run.all_collective &= loader.last_read_collective();
      ++run.steps;
    }
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return run;
}

void print_result(const BenchOptions& o, const std::string& file, int ranks, const RawRates& raw, const LoaderRun& run,
                  double slowest, unsigned long long total_images) {
  const double bytes = static_cast<double>(total_images) * static_cast<double>(run.per_sample) * 4.0;
  const double raw_gbs = raw.bytes / raw.seconds / 1e9, gbs = bytes / slowest / 1e9;
  const double batch_raw_gbs = raw.bytes / raw.batch_seconds / 1e9;
  std::printf(
      "{\"benchmark\": \"io_reader\", \"ranks\": %d, \"file\": \"%s\", \"file_bytes\": %.0f, \"cache\": \"%s\", "
      "\"global_batch\": %zu, \"sample_floats\": %lld, \"epochs\": %d, \"steps_per_rank\": %zu, "
      "\"images\": %llu, \"seconds\": %.4f, \"images_per_s\": %.1f, \"gb_per_s\": %.3f, "
      "\"raw_seconds\": %.4f, \"raw_gb_per_s\": %.3f, \"fraction_of_raw\": %.3f, \"collective\": %s, "
      "\"individual_chunk_io\": %s, "
      "\"prefetch\": %s, \"prefetch_depth\": %zu, \"raw_into_batch_buffers_gb_per_s\": %.3f, "
      "\"fraction_of_raw_into_batch_buffers\": %.3f, \"io_threads\": %d}\n",
      ranks, file.c_str(), raw.bytes / o.epochs, o.cold ? "cold" : "warm", o.batch,
      static_cast<long long>(run.per_sample), o.epochs, run.steps, total_images, slowest,
      static_cast<double>(total_images) / slowest, gbs, raw.seconds, raw_gbs, gbs / raw_gbs,
      run.all_collective ? "true" : "false", o.individual ? "true" : "false", o.prefetch ? "true" : "false", o.depth,
      batch_raw_gbs, gbs / batch_raw_gbs, run.io_threads);
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int code = 0;
  try {
    const BenchOptions o = parse_arguments(argc, argv);
    std::string file = o.file;
    const bool generated = file.empty();
    if (generated) {
      long long pid = rank == 0 ? ::getpid() : 0;
      MPI_Bcast(&pid, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
      file = (std::filesystem::temp_directory_path() / ("cbednet-bench-io-" + std::to_string(pid) + ".h5")).string();
      if (rank == 0) write_file(file, o.samples, o.size);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const RawRates raw = measure_raw(o, file, rank, ranks);
    if (rank == 0 && o.cold) drop_cache(file);
    MPI_Barrier(MPI_COMM_WORLD);
    const LoaderRun run = measure_loader(o, file, rank);
    double slowest = 0;
    unsigned long long total_images = 0, local = run.images;
    MPI_Reduce(&run.seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&local, &total_images, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) print_result(o, file, ranks, raw, run, slowest, total_images);
    MPI_Barrier(MPI_COMM_WORLD);
    if (generated && !o.keep && rank == 0) std::filesystem::remove(file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cbednet_bench_io (rank %d): %s\n", rank, e.what());
    code = 1;
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return code;
}
