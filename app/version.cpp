#include "app/version.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <sstream>

#include "cbednet/build_info.hpp"

namespace cbednet::app {

std::string version_text() {
  std::ostringstream out;
  char mpi_library[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(mpi_library, &length);
  std::string mpi(mpi_library, static_cast<std::size_t>(length));
  if (const auto cut = mpi.find_first_of(",\n"); cut != std::string::npos) mpi.resize(cut);
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
  out << "cbednet " << build_info::version << " (" << build_info::build_type << ", " << build_info::cxx_compiler
      << ")\n"
      << "  CUDA   " << build_info::cuda_version << "\n"
      << "  cuDNN  " << build_info::cudnn_version << " (cudnn-frontend " << build_info::cudnn_frontend_version << ")\n"
      << "  NCCL   " << build_info::nccl_version << "\n"
      << "  MPI    " << mpi << " (MPI " << MPI_VERSION << "." << MPI_SUBVERSION << ")\n"
      << "  HDF5   " << build_info::hdf5_version << " (runtime " << h5_major << "." << h5_minor << "." << h5_release
      << ", parallel)\n";
  return out.str();
}

}  // namespace cbednet::app
