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
grep -q '^  namespace: cbednet' "$root/Spack/repo.yaml"
fail=0
need() { grep -qE -- "$1" "$pkg" || { echo "package.py lacks: $1"; fail=1; }; }
need 'class Cbednet\(CMakePackage, CudaPackage\)'
need '^    git = '
need 'version\("main", branch="main"\)'
need 'version\("0\.1\.0", tag="v0\.1\.0"\)'
need 'variant\("onednn", default=True'
need 'depends_on\("mpi"\)'
need 'depends_on\("hdf5\+mpi"\)'
need 'depends_on\("boost@1\.70:\+program_options"\)'
need 'depends_on\("spglib"\)'
need 'depends_on\("openblas threads=openmp"\)'
need 'depends_on\("onednn", when="\+onednn"\)'
need 'depends_on\("googletest", type="test"\)'
need 'depends_on\("pkgconfig", type="build"\)'
need 'depends_on\("cmake@3\.25:", type="build"\)'
need 'depends_on\("cudnn@[0-9.]*:", when="\+cuda"\)'
need 'depends_on\("nccl@[0-9.]*:", when="\+cuda"\)'
need 'define\("CBEDNET_CUDA"'
need 'define\("CMAKE_CUDA_ARCHITECTURES"'
need 'define\("CBEDNET_BUILD_TESTS", self\.run_tests\)'
if [[ -n "${SPACK:-}" ]]; then
  "$SPACK" audit packages cbednet
  "$SPACK" spec cbednet+cuda cuda_arch=90 | grep -q 'cbednet@'
fi
exit "$fail"
