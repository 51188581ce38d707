#!/usr/bin/env bash
# The Spack recipe compiles as Python and declares the variants, dependencies and CMake mapping that
# docs/operations.md promises. (`spack audit` and `spack spec` were run by hand: see docs/operations.md; with
# SPACK=/path/to/bin/spack set, they run here too.)
set -euo pipefail
root=$1
pkg="$root/Spack/packages/cbednet/package.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -c "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)" "$pkg" "$tmp/p.pyc"
fe_pkg="$root/Spack/packages/cudnn-frontend/package.py"
python3 -c "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)" "$fe_pkg" "$tmp/f.pyc"
grep -q '^  namespace: cbednet' "$root/Spack/repo.yaml"
fail=0
need() { grep -qE -- "$1" "$pkg" || { echo "package.py lacks: $1"; fail=1; }; }
refuse() { ! grep -qE -- "$1" "$pkg" || { echo "package.py must not have: $1 ($2)"; fail=1; }; }
need 'class Cbednet\(CMakePackage, CudaPackage\)'
need '^    git = '
# Versions: the branch until a release exists; a release is a tag pinned by its commit.
need 'version\("main", branch="main"\)'
if grep -E '^\s*version\(' "$pkg" | grep 'tag=' | grep -qv 'commit='; then
  echo "package.py: a version(tag=...) without commit=..."; fail=1
fi
# The license the recipe declares is the repository's LICENSE.
need 'license\("Apache-2\.0"\)'
grep -q "Apache License" "$root/LICENSE" && grep -q "Version 2.0, January 2004" "$root/LICENSE" ||
  { echo "LICENSE is not the Apache License 2.0 that package.py declares"; fail=1; }
# Compiler languages as Spack's package API declares them; no reading of Spack's internals at class definition.
need 'depends_on\("c", type="build"\)'
need 'depends_on\("cxx", type="build"\)'
refuse 'spack_version_info|^import spack$|^\s+import spack' "version checks of Spack itself"
need 'depends_on\("mpi"\)'
need 'depends_on\("hdf5\+mpi"\)'
need 'depends_on\("boost@1\.70:\+program_options"\)'
need 'depends_on\("spglib"\)'
# BLAS through the virtual; OpenBLAS, when it is the provider, in its OpenMP build.
need 'depends_on\("blas"\)'
need 'depends_on\("openblas threads=openmp", when="\^\[virtuals=blas\] openblas"\)'
refuse 'depends_on\("openblas[^"]*"\)$' "OpenBLAS by name: use the virtual blas"
# oneDNN is required: a lower bound, and no variant that could not be turned off.
need 'depends_on\("onednn@[0-9.]+:"\)'
refuse 'variant\("onednn"' "a variant that cannot be turned off"
need 'depends_on\("googletest", type="test"\)'
need 'depends_on\("pkgconfig", type="build"\)'
need 'depends_on\("cmake@3\.25:", type="build"\)'
need 'depends_on\("cudnn@[0-9.]*:", when="\+cuda"\)'
need 'depends_on\("nccl@[0-9.]*:", when="\+cuda"\)'
# cudnn-frontend (header-only, our own recipe: Spack's builtin repository has none) and where CMake finds it.
need 'depends_on\("cudnn-frontend@[0-9.]*:", type="build", when="\+cuda"\)'
need 'env\.set\("CUDNN_FRONTEND_ROOT", self\.spec\["cudnn-frontend"\]\.prefix\)'
grep -q 'ENV CUDNN_FRONTEND_ROOT' "$root/cmake/CBEDNetCuda.cmake" ||
  { echo "cmake/CBEDNetCuda.cmake no longer reads CUDNN_FRONTEND_ROOT, which package.py sets"; fail=1; }
# Its recipe installs the headers only and declares cuDNN (the headers include cudnn.h) and the MIT license.
grep -qE 'class CudnnFrontend\(Package\)' "$fe_pkg" || { echo "cudnn-frontend: not a header-only Package"; fail=1; }
grep -qE 'install_tree\("include", prefix\.include\)' "$fe_pkg" || { echo "cudnn-frontend: installs no include/"; fail=1; }
grep -qE 'depends_on\("cudnn@[0-9.]+:"\)' "$fe_pkg" || { echo "cudnn-frontend: no cudnn dependency"; fail=1; }
grep -q 'license("MIT")' "$fe_pkg" || { echo "cudnn-frontend: license is not MIT"; fail=1; }
need 'define\("CBEDNET_CUDA"'
need 'define\("CMAKE_CUDA_ARCHITECTURES"'
need 'define\("CBEDNET_BUILD_TESTS", self\.run_tests\)'
# check() under any MPI: the launcher and its options come from CMake, not from Open MPI variables here.
need 'define\("MPI_C_COMPILER"'
need 'define\("MPIEXEC_EXECUTABLE"'
refuse 'OMPI_MCA|--oversubscribe", *"-' "Open-MPI-only settings in check()"
# Stand-alone tests for `spack test run`.
need '^    def test_version\(self\)'
need '^    def test_two_ranks\(self\)'
if [[ -n "${SPACK:-}" ]]; then
  "$SPACK" audit packages cbednet cudnn-frontend
  "$SPACK" spec cbednet+cuda cuda_arch=90 | grep -q 'cudnn-frontend@'
  "$SPACK" spec cbednet ^mpich | grep -q 'mpich@'
fi
exit "$fail"
