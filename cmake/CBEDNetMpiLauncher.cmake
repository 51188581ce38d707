# The MPI launcher the tests and scripts start ranks with, decided once, here, at configure time (FindMPI has
# already found MPIEXEC_EXECUTABLE, MPIEXEC_NUMPROC_FLAG, MPIEXEC_PREFLAGS and MPIEXEC_POSTFLAGS):
#   CBEDNET_MPI_LAUNCHER_FLAVOUR  openmpi, mpich (Hydra: MPICH, Intel MPI, MVAPICH), slurm or unknown
#   CBEDNET_MPIEXEC_OVERSUBSCRIBE_FLAGS  what lets the launcher start more ranks than cores (tests run 4 ranks
#                                 on 2 cores): Open MPI 4 `--oversubscribe`, Open MPI 5 `--map-by :OVERSUBSCRIBE`,
#                                 Slurm's srun `--overcommit`, nothing for Hydra (it never refuses); the cache
#                                 option CBEDNET_MPIEXEC_OVERSUBSCRIBE (default AUTO) replaces it
#   ${PROJECT_BINARY_DIR}/mpi-launcher.sh  the same for bash (tests/app/lib.sh, scripts/demo.sh, ...): variables
#                                 and `cbednet_mpiexec N COMMAND...`, which stops with a clear message when the
#                                 launcher is missing, before any rank starts.
# Choosing another MPI: -DMPI_EXECUTABLE_SUFFIX=.mpich (Debian's alternatives), or -DMPI_C_COMPILER=... together
# with -DMPIEXEC_EXECUTABLE=...; a launcher of another MPI than the library's is refused below.

set(CBEDNET_MPI_LAUNCHER_FLAVOUR "unknown")
set(_cbednet_launcher_version "")
if(MPIEXEC_EXECUTABLE AND EXISTS "${MPIEXEC_EXECUTABLE}")
  execute_process(COMMAND "${MPIEXEC_EXECUTABLE}" --version OUTPUT_VARIABLE _cbednet_launcher_out
    ERROR_VARIABLE _cbednet_launcher_out TIMEOUT 20 RESULT_VARIABLE _cbednet_launcher_rc)
  if(_cbednet_launcher_out MATCHES "\\((Open MPI|OpenRTE)\\) ([0-9]+\\.[0-9]+[.0-9]*)")
    set(CBEDNET_MPI_LAUNCHER_FLAVOUR "openmpi")
    set(_cbednet_launcher_version "${CMAKE_MATCH_2}")
  elseif(_cbednet_launcher_out MATCHES "HYDRA build details:[^\n]*\n[ \t]*Version:[ \t]*([0-9][^ \t\n]*)")
    set(CBEDNET_MPI_LAUNCHER_FLAVOUR "mpich")
    set(_cbednet_launcher_version "${CMAKE_MATCH_1}")
  elseif(_cbednet_launcher_out MATCHES "Intel\\(R\\) MPI Library[^\n]*Version ([0-9][^ \t\n]*)")
    set(CBEDNET_MPI_LAUNCHER_FLAVOUR "mpich")
    set(_cbednet_launcher_version "Intel MPI ${CMAKE_MATCH_1}")
  elseif(_cbednet_launcher_out MATCHES "^slurm ([0-9][^ \t\n]*)")
    set(CBEDNET_MPI_LAUNCHER_FLAVOUR "slurm")
    set(_cbednet_launcher_version "${CMAKE_MATCH_1}")
  endif()
endif()

if(CBEDNET_MPI_LAUNCHER_FLAVOUR STREQUAL "openmpi" AND _cbednet_launcher_version VERSION_GREATER_EQUAL 5)
  set(_cbednet_oversubscribe "--map-by;:OVERSUBSCRIBE")
elseif(CBEDNET_MPI_LAUNCHER_FLAVOUR STREQUAL "openmpi")
  set(_cbednet_oversubscribe "--oversubscribe")
elseif(CBEDNET_MPI_LAUNCHER_FLAVOUR STREQUAL "slurm")
  set(_cbednet_oversubscribe "--overcommit")
else()
  set(_cbednet_oversubscribe "")
endif()
# AUTO follows the launcher on every configure (a reconfigure with another MPIEXEC_EXECUTABLE included).
set(CBEDNET_MPIEXEC_OVERSUBSCRIBE "AUTO" CACHE STRING
  "Launcher options that allow more ranks than cores (tests); AUTO: from the launcher found (none for Hydra)")
if(CBEDNET_MPIEXEC_OVERSUBSCRIBE STREQUAL "AUTO")
  set(CBEDNET_MPIEXEC_OVERSUBSCRIBE_FLAGS "${_cbednet_oversubscribe}")
else()
  set(CBEDNET_MPIEXEC_OVERSUBSCRIBE_FLAGS "${CBEDNET_MPIEXEC_OVERSUBSCRIBE}")
endif()

# The library and the launcher must be the same MPI: Open MPI's mpiexec cannot start MPICH programs (every rank
# would be rank 0 of its own world) and the other way round. The library's flavour is read from its mpi.h.
set(_cbednet_library_flavour "")
if(MPI_C_HEADER_DIR AND EXISTS "${MPI_C_HEADER_DIR}/mpi.h")
  file(STRINGS "${MPI_C_HEADER_DIR}/mpi.h" _cbednet_mpi_h REGEX "^#define (OMPI_MAJOR_VERSION|MPICH_VERSION) ")
  if(_cbednet_mpi_h MATCHES "OMPI_MAJOR_VERSION")
    set(_cbednet_library_flavour "openmpi")
  elseif(_cbednet_mpi_h MATCHES "MPICH_VERSION")
    set(_cbednet_library_flavour "mpich")
  endif()
endif()
if(_cbednet_library_flavour AND CBEDNET_MPI_LAUNCHER_FLAVOUR MATCHES "^(openmpi|mpich)$"
   AND NOT _cbednet_library_flavour STREQUAL CBEDNET_MPI_LAUNCHER_FLAVOUR)
  message(FATAL_ERROR
    "MPI launcher and library disagree: MPIEXEC_EXECUTABLE=${MPIEXEC_EXECUTABLE} is ${CBEDNET_MPI_LAUNCHER_FLAVOUR} "
    "${_cbednet_launcher_version}, but the MPI library (MPI_C_COMPILER=${MPI_C_COMPILER}) is ${_cbednet_library_flavour}. "
    "Configure both from the same MPI, e.g. -DMPI_EXECUTABLE_SUFFIX=.mpich (Debian) or "
    "-DMPIEXEC_EXECUTABLE=/path/to/that MPI's mpiexec, in a fresh build directory.")
endif()

if(NOT MPIEXEC_EXECUTABLE OR NOT EXISTS "${MPIEXEC_EXECUTABLE}")
  string(CONCAT _cbednet_no_launcher
    "No MPI launcher found (MPIEXEC_EXECUTABLE='${MPIEXEC_EXECUTABLE}'): the MPI tests and the demo start their ranks "
    "with it. Give it with -DMPIEXEC_EXECUTABLE=/path/to/mpiexec (the one of the MPI whose library is used: "
    "${MPI_C_COMPILER}).")
  if(CBEDNET_BUILD_TESTS)
    message(FATAL_ERROR "${_cbednet_no_launcher} Or configure with -DCBEDNET_BUILD_TESTS=OFF.")
  endif()
  message(WARNING "${_cbednet_no_launcher}")
endif()
message(STATUS "MPI launcher: ${MPIEXEC_EXECUTABLE} (${CBEDNET_MPI_LAUNCHER_FLAVOUR} ${_cbednet_launcher_version}), "
               "oversubscribe: '${CBEDNET_MPIEXEC_OVERSUBSCRIBE_FLAGS}'")

# For bash: each list as a quoted array (options with spaces survive).
function(_cbednet_bash_array out)
  set(words "")
  foreach(word IN LISTS ARGN)
    string(REPLACE "'" "'\\''" word "${word}")
    string(APPEND words " '${word}'")
  endforeach()
  set(${out} "(${words} )" PARENT_SCOPE)
endfunction()
_cbednet_bash_array(CBEDNET_BASH_MPIEXEC_PREFLAGS ${CBEDNET_MPIEXEC_OVERSUBSCRIBE_FLAGS} ${MPIEXEC_PREFLAGS})
configure_file("${CMAKE_CURRENT_LIST_DIR}/mpi-launcher.sh.in" "${PROJECT_BINARY_DIR}/mpi-launcher.sh" @ONLY)
