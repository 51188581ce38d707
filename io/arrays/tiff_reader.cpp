// TIFF stacks through libtiff (Debian libtiff-dev): every 3 pages of a file are one sample's projections. Pages
// are S x S with one channel, striped (a tiled TIFF is refused), pixels 8/16/32-bit (un)signed integers or
// 32/64-bit floats, converted to float32.
#include <tiffio.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/arrays/array_reader.hpp"

namespace cbednet::io {

namespace {

struct TiffCloser {
  void operator()(TIFF* tif) const { TIFFClose(tif); }
};
using TiffFile = std::unique_ptr<TIFF, TiffCloser>;

// libtiff prints its errors and warnings to stderr by default; CBEDNet reports one message of its own instead.
TiffFile open_tiff_file(const std::string& path) {
  static std::once_flag silenced;
  std::call_once(silenced, [] {
    TIFFSetErrorHandler(nullptr);
    TIFFSetWarningHandler(nullptr);
  });
  TiffFile tif(TIFFOpen(path.c_str(), "r"));
  if (!tif) throw_error<IoError>("file ", path, ": not a readable TIFF file");
  return tif;
}

template <typename T>
void convert_row(const unsigned char* in, std::size_t count, float* out) {
  for (std::size_t x = 0; x < count; ++x) {
    T value;
    std::memcpy(&value, in + x * sizeof(T), sizeof(T));
    out[x] = static_cast<float>(value);
  }
}

// One page (the current directory) into out[S*S]; IoError naming file and page for what is not supported.
void read_page(TIFF* tif, const std::string& ctx, int S, float* out) {
  std::uint32_t width = 0, height = 0;
  std::uint16_t channels = 1, bits = 0, format = SAMPLEFORMAT_UINT;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &channels);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
  if (width != static_cast<std::uint32_t>(S) || height != static_cast<std::uint32_t>(S))
    throw_error<IoError>(ctx, ": ", width, "x", height, " pixels, expected ", S, "x", S, " like the first page");
  if (channels != 1) throw_error<IoError>(ctx, ": ", channels, " channels per pixel, expected 1 (grey levels)");
  if (TIFFIsTiled(tif)) throw_error<IoError>(ctx, ": a tiled TIFF (only striped TIFFs are read)");
  const bool is_float = format == SAMPLEFORMAT_IEEEFP, is_int = format == SAMPLEFORMAT_INT,
             is_uint = format == SAMPLEFORMAT_UINT;
  const bool supported =
      (is_float && (bits == 32 || bits == 64)) || ((is_int || is_uint) && (bits == 8 || bits == 16 || bits == 32));
  if (!supported)
    throw_error<IoError>(ctx, ": ", bits, "-bit ",
                         is_float  ? "float"
                         : is_int  ? "signed"
                         : is_uint ? "unsigned"
                                   : "other",
                         " pixels are not supported (8/16/32-bit integers, 32/64-bit floats)");
  std::vector<unsigned char> row(static_cast<std::size_t>(TIFFScanlineSize(tif)));
  if (row.size() < static_cast<std::size_t>(S) * bits / 8) throw_error<IoError>(ctx, ": unexpected scanline size");
  for (int y = 0; y < S; ++y) {
    if (TIFFReadScanline(tif, row.data(), static_cast<std::uint32_t>(y), 0) < 0)
      throw_error<IoError>(ctx, ": cannot read row ", y, " (truncated or corrupt?)");
    float* dst = out + static_cast<std::size_t>(y) * S;
    const auto n = static_cast<std::size_t>(S);
    if (is_float) {
      bits == 32 ? convert_row<float>(row.data(), n, dst) : convert_row<double>(row.data(), n, dst);
    } else if (is_int) {
      bits == 8    ? convert_row<std::int8_t>(row.data(), n, dst)
      : bits == 16 ? convert_row<std::int16_t>(row.data(), n, dst)
                   : convert_row<std::int32_t>(row.data(), n, dst);
    } else {
      bits == 8    ? convert_row<std::uint8_t>(row.data(), n, dst)
      : bits == 16 ? convert_row<std::uint16_t>(row.data(), n, dst)
                   : convert_row<std::uint32_t>(row.data(), n, dst);
    }
  }
}

class TiffReader final : public ArrayReader {
 public:
  explicit TiffReader(std::string path) : path_(std::move(path)) {
    const auto tif = open_tiff_file(path_);
    const auto pages = static_cast<std::size_t>(TIFFNumberOfDirectories(tif.get()));
    if (pages == 0 || pages % 3 != 0)
      throw_error<IoError>("file ", path_, ": ", pages, " page", pages == 1 ? "" : "s",
                           "; expected 3 per sample (one per projection)");
    n_ = pages / 3;
    std::uint32_t width = 0;
    TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &width);
    size_ = static_cast<int>(width);
    if (size_ <= 0) throw_error<IoError>("file ", path_, ": first page has no width");
  }
  std::size_t size() const override { return n_; }
  int stack_size() const override { return size_; }
  void read(std::size_t i, float* out) const override {
    CBEDNET_REQUIRE(i < n_, InvalidArgument, "file ", path_, ": sample ", i, " out of range (", n_, ")");
    const auto tif = open_tiff_file(path_);  // per read: reads may come from several threads
    for (std::size_t p = 0; p < 3; ++p) {
      const auto page = 3 * i + p;
      const std::string ctx = "file " + path_ + ", page " + std::to_string(page);
      if (TIFFSetDirectory(tif.get(), static_cast<tdir_t>(page)) != 1) throw_error<IoError>(ctx, ": cannot be read");
      read_page(tif.get(), ctx, size_, out + p * static_cast<std::size_t>(size_) * size_);
    }
  }
  const std::string& path() const override { return path_; }
  std::string entry(std::size_t i) const override {
    return n_ == 1 ? std::string() : "pages " + std::to_string(3 * i) + "-" + std::to_string(3 * i + 2);
  }

 private:
  std::string path_;
  std::size_t n_ = 0;
  int size_ = 0;
};

}  // namespace

std::unique_ptr<ArrayReader> open_tiff(const std::string& path) { return std::make_unique<TiffReader>(path); }

}  // namespace cbednet::io
