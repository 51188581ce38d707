# Every third-party dependency is found here, the CMake way, with a clear message when one is missing.

find_package(MPI REQUIRED COMPONENTS C)

# Parallel HDF5 is required: collective reads are how ranks share the data files.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "CBEDNet needs a parallel (MPI) build of HDF5, but the HDF5 found (${HDF5_VERSION}, ${HDF5_INCLUDE_DIRS}) is serial. "
    "On Debian install libhdf5-openmpi-dev (scripts/install-deps.sh); with Spack depend on hdf5+mpi; "
    "or point HDF5_ROOT at a parallel installation.")
endif()
if(NOT TARGET hdf5::hdf5)
  add_library(hdf5::hdf5 INTERFACE IMPORTED)
  target_include_directories(hdf5::hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
  target_link_libraries(hdf5::hdf5 INTERFACE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
  target_compile_definitions(hdf5::hdf5 INTERFACE ${HDF5_DEFINITIONS} ${HDF5_C_DEFINITIONS})
endif()

find_package(Boost 1.70 REQUIRED COMPONENTS program_options)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)

find_package(PkgConfig REQUIRED)
pkg_check_modules(SPGLIB REQUIRED IMPORTED_TARGET spglib)
# gemmi (header-only here) reads CIF files for simulate --structures (io/sim/structure/); its CIF parser includes
# PEGTL as <tao/pegtl.hpp> (Debian: gemmi-dev and tao-pegtl-dev; gemmi 0.5.7 works with PEGTL 3.2).
find_path(CBEDNET_GEMMI_INCLUDE_DIR gemmi/cif.hpp)
find_path(CBEDNET_PEGTL_INCLUDE_DIR tao/pegtl.hpp HINTS ${CBEDNET_GEMMI_INCLUDE_DIR}/gemmi/third_party)
if(NOT CBEDNET_GEMMI_INCLUDE_DIR OR NOT CBEDNET_PEGTL_INCLUDE_DIR)
  message(FATAL_ERROR "gemmi/cif.hpp and tao/pegtl.hpp not found (Debian: gemmi-dev tao-pegtl-dev; Spack: gemmi)")
endif()
add_library(CBEDNet::gemmi INTERFACE IMPORTED)
target_include_directories(CBEDNet::gemmi SYSTEM INTERFACE ${CBEDNET_GEMMI_INCLUDE_DIR} ${CBEDNET_PEGTL_INCLUDE_DIR})
# FFTW (single precision, threaded API) for the CPU multislice engine (io/sim/multislice/). fftw3f.pc names only
# libfftw3f, so the threads library beside it is found by name.
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
find_library(CBEDNET_FFTW3F_THREADS_LIBRARY fftw3f_threads HINTS ${FFTW3F_LIBRARY_DIRS} REQUIRED)
target_link_libraries(PkgConfig::FFTW3F INTERFACE ${CBEDNET_FFTW3F_THREADS_LIBRARY})

# BLAS with the CBLAS interface, OpenMP-threaded: DGEMM (fp64 reference path), CGEMM (multislice) and the GEMMs
# oneDNN does not run. OpenBLAS's OpenMP flavour by default (FindBLAS, BLA_VENDOR=OpenBLAS); another vendor with
# -DBLA_VENDOR=..., or given libraries with -DCBEDNET_BLAS_LIBRARIES=... (Spack passes its `blas` provider's;
# FindBLAS itself ignores a preset BLAS_LIBRARIES). kernels/cpu/blas.hpp hides what only OpenBLAS has.
set(CBEDNET_BLAS_LIBRARIES "" CACHE STRING "BLAS libraries (CBLAS interface) to use instead of FindBLAS's choice")
if(CBEDNET_BLAS_LIBRARIES)
  set(BLAS_LIBRARIES ${CBEDNET_BLAS_LIBRARIES})
else()
  if(NOT BLA_VENDOR AND "$ENV{BLA_VENDOR}" STREQUAL "")
    set(BLA_VENDOR OpenBLAS)
  endif()
  find_package(BLAS REQUIRED)
endif()
find_path(CBEDNET_CBLAS_INCLUDE_DIR NAMES cblas.h mkl_cblas.h
  HINTS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp
  PATH_SUFFIXES openblas)
if(NOT CBEDNET_CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "cblas.h of the BLAS (${BLAS_LIBRARIES}) not found: set CBEDNET_CBLAS_INCLUDE_DIR "
                      "(Debian: libopenblas-openmp-dev)")
endif()
include(CheckFunctionExists)
set(CMAKE_REQUIRED_LIBRARIES ${BLAS_LIBRARIES})
check_function_exists(openblas_get_corename CBEDNET_BLAS_IS_OPENBLAS)
unset(CMAKE_REQUIRED_LIBRARIES)
add_library(CBEDNet::blas INTERFACE IMPORTED)
target_link_libraries(CBEDNet::blas INTERFACE ${BLAS_LIBRARIES})
target_include_directories(CBEDNet::blas INTERFACE ${CBEDNET_CBLAS_INCLUDE_DIR})
if(CBEDNET_BLAS_IS_OPENBLAS)
  target_compile_definitions(CBEDNet::blas INTERFACE CBEDNET_BLAS_IS_OPENBLAS=1)
endif()

# oneDNN: its sgemm runs the fp32 GEMMs (CPU-feature dispatch; see kernels/cpu/cpu_gemm.hpp). Debian's
# dnnlConfig.cmake also looks for OpenCL (ocl-icd-opencl-dev).
find_package(dnnl REQUIRED)

# Plain-array inputs of predict (io/arrays/): TIFF stacks through libtiff (libtiff-dev). (NumPy .npy files are read
# by io/arrays/npy_reader.cpp itself: xtensor's reader failed fuzzing.)
find_package(TIFF REQUIRED)

# Protocol Buffers: TensorBoard event files (cbednet train --tensorboard) hold protobuf-encoded Event messages.
find_package(Protobuf REQUIRED)
if(NOT TARGET protobuf::protoc)
  message(FATAL_ERROR "protoc not found (Debian: protobuf-compiler; scripts/install-deps.sh)")
endif()
# ONNX (cbednet export/import): its protobuf classes and checker, built against the same protobuf.
find_package(ONNX REQUIRED)

if(CBEDNET_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
