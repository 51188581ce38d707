// The CBLAS interface of the BLAS the build found (OpenBLAS on Debian; with Spack, any provider of the virtual
// `blas`: OpenBLAS, Intel oneMKL, BLIS, ...) and its thread count. Only OpenBLAS has functions for the thread count
// and its kernel name; every other provider CBEDNet is built with is expected to be OpenMP-threaded, so it follows
// OpenMP's own setting (blas.cpp, compiled once with CMake's CBEDNET_BLAS_IS_OPENBLAS).
#pragma once

#if __has_include(<cblas.h>)
#include <cblas.h>
#else
#include <mkl_cblas.h>
#endif

#include <string>

namespace cbednet::blas {

// The BLAS's thread count for the calling thread's next calls, and setting it.
int threads();
void set_threads(int threads);
// The kernel family OpenBLAS chose for this CPU (e.g. "Haswell", or a generic "Prescott" on a hidden CPU model);
// "not OpenBLAS" for other libraries.
std::string core_name();

}  // namespace cbednet::blas
