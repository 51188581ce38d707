// Samples that come as plain arrays rather than in the SMC layout: what a microscope or a notebook gives. Each
// sample is a stack of 3 projections [3, S, S] of raw intensities (unlabelled), from
//   - a NumPy .npy file (or a directory of them): [N, 3, S, S] or [3, S, S], float32 or float64;
//   - a TIFF file (or a directory of them): 3 pages per sample, S x S, one channel, 8/16/32-bit integer or 32/64-bit
//     float pixels;
//   - an HDF5 dataset (--dataset PATH inside an HDF5 file): [N, 3, S, S] or [3, S, S], any integer or float type.
// The model's preprocessing applies (log scaling, normalisation) and the stack is box-averaged from S down to the
// model's input size, which must divide S; anything else is refused naming the file.
#pragma once

#include <memory>
#include <string>

#include "io/hdf5/sample_source.hpp"

namespace cbednet::io {

// True when `path` (with `options.dataset`) is read by open_array_source: a .npy or .tif/.tiff file, a directory
// holding such files and no .h5 file, or any file when options.dataset is set.
bool is_array_input(const std::string& path, const SourceOptions& options);
// IoError naming the file (and sample) for unreadable input, a wrong number of projections, another dtype, a size
// the model cannot use, non-finite pixels (at read).
std::unique_ptr<SampleSource> open_array_source(const std::string& path, const SourceOptions& options);

}  // namespace cbednet::io
