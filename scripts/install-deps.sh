#!/usr/bin/env bash
# Installs every Debian 12 package CBEDNet's build, tests, demo and benchmarks need.
# Idempotent: apt-get install skips what is present. Never removes anything.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates clang-format
  # MPI and parallel HDF5 (the openmpi flavour of HDF5 is the parallel one)
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  # CI only: the second MPI the MPI tests run against (scripts/ci-mpich.sh); Debian's alternatives keep Open MPI
  # the default mpicc/mpiexec (priority 50 against MPICH's 40)
  mpich libmpich-dev libhdf5-mpich-dev
  # CI only: compiler cache shared by the configurations (the MPICH build reuses what does not include mpi.h)
  ccache
  # command line, tests
  libboost-program-options-dev libgtest-dev
  # crystal symmetry for the simulator
  libsymspg-dev
  # CIF crystal structures for simulate --structures (gemmi, header-only; its CIF parser needs PEGTL)
  gemmi-dev tao-pegtl-dev
  # FFTs of the multislice simulator (single precision, threaded: libfftw3f + libfftw3f_threads)
  libfftw3-dev
  # CPU math: oneDNN (fp32 GEMM, CPU-feature dispatch; its CMake config needs OpenCL headers) and OpenBLAS
  # built with OpenMP (fp64 GEMM), so both and our own loops share one OpenMP thread pool
  libdnnl-dev ocl-icd-opencl-dev libopenblas-openmp-dev
  # plots and checks of HDF5 files from Python (Debian's, used with /usr/bin/python3)
  python3 python3-numpy python3-h5py python3-matplotlib
  # TensorBoard event files: the Event/Summary messages are encoded by protoc-generated classes
  libprotobuf-dev protobuf-compiler
  # predict's plain-array inputs: TIFF stacks (libtiff); tifffile writes the TIFFs the tests read
  libtiff-dev python3-tifffile
  # cbednet export/import: ONNX's own protobuf classes and checker (built against the protobuf above)
  libonnx-dev
  # pip, for TensorBoard (PyPI only), whose own reader checks the event files in tests/app/tensorboard.sh
  python3-pip
  # CI only: renders cbednet report's HTML headless and checks it is not blank (scripts/check-report-render.sh)
  chromium
)

if [[ "${CBEDNET_DEPS_EXTRA:-}" != "" ]]; then
  # shellcheck disable=SC2206
  packages+=(${CBEDNET_DEPS_EXTRA})
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# TensorBoard (not packaged by Debian 12) into its own folder for Debian's /usr/bin/python3; the tests put it on
# PYTHONPATH. --target keeps it out of the system's site-packages (which PEP 668 protects; pip allows --target).
python_dir=${CBEDNET_PYTHON_DIR:-/opt/cbednet-py}
if PYTHONPATH="$python_dir" /usr/bin/python3 -c "import tensorboard" 2>/dev/null; then
  echo "install-deps: tensorboard present in $python_dir"
else
  echo "install-deps: installing tensorboard into $python_dir"
  "${sudo_cmd[@]}" /usr/bin/python3 -m pip install --quiet --disable-pip-version-check \
    --target "$python_dir" tensorboard
fi
# onnx and onnxruntime (CPU; PyPI only) into the same folder: tests/interop and tests/app/onnx.sh run the exported
# models in onnxruntime and build torchvision-form graphs with onnx's helper API. The numpy they bring (which
# tensorboard's install may already have put there) shadows Debian's under that PYTHONPATH; the tests read HDF5
# with Debian's h5py in a separate interpreter without it.
if PYTHONPATH="$python_dir" /usr/bin/python3 -c "import onnx, onnxruntime" 2>/dev/null; then
  echo "install-deps: onnx and onnxruntime present in $python_dir"
else
  echo "install-deps: installing onnx and onnxruntime into $python_dir"
  "${sudo_cmd[@]}" /usr/bin/python3 -m pip install --quiet --disable-pip-version-check \
    --target "$python_dir" onnx onnxruntime
fi
# cudnn-frontend (NVIDIA's header-only C++ API over cuDNN's graph API, MIT; not packaged by Debian 12): the CUDA
# build's graph-API convolutions (kernels/cuda/conv_graph.cpp). Only its include/ is used (cmake/CBEDNetCuda.cmake
# finds <python_dir>/include/cudnn_frontend.h); the wheel's Python module is not. Pinned: the headers are
# compiled into cbednet, so a new release is a deliberate change. --no-deps: the headers need nothing from PyPI.
cudnn_frontend_version=1.32.0
if [[ -f "$python_dir/include/cudnn_frontend.h" ]] &&
  grep -qx "Version: $cudnn_frontend_version" "$python_dir"/nvidia_cudnn_frontend-*.dist-info/METADATA 2>/dev/null; then
  echo "install-deps: cudnn-frontend $cudnn_frontend_version headers present in $python_dir/include"
else
  echo "install-deps: installing cudnn-frontend $cudnn_frontend_version headers into $python_dir"
  "${sudo_cmd[@]}" /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
    --target "$python_dir" "nvidia-cudnn-frontend==$cudnn_frontend_version"
fi
