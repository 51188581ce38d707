# Spack recipe for CBEDNet (see docs/operations.md for how it was validated).
import os

from spack.package import *


class Cbednet(CMakePackage, CudaPackage):
    """CBEDNet: MPI + CUDA/cuDNN C++20 trainer of ResNets that classify a crystal's space group from
    convergent-beam electron diffraction patterns (HDF5), with hybrid pipeline/data parallelism."""

    homepage = "https://github.com/cbednet/cbednet"
    git = "https://github.com/cbednet/cbednet.git"

    maintainers("cbednet")
    license("Apache-2.0")

    # No release has been tagged yet, so the branch is the only version. With the first release add
    # version("0.1.0", tag="v0.1.0", commit="<the tag's 40-hex commit>") above it (the commit pins what the tag
    # pointed to when the recipe was written).
    version("main", branch="main")

    # `cbednet report` and `inspect --preview` run share/cbednet/cbednet_report.py: Python with numpy,
    # matplotlib and h5py at run time (the binary itself links none of them).
    variant("report", default=True, description="Python, numpy, matplotlib and h5py for cbednet report")

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("cmake@3.25:", type="build")
    depends_on("pkgconfig", type="build")
    depends_on("ninja", type="build")

    depends_on("mpi")
    depends_on("hdf5+mpi")
    depends_on("boost@1.70:+program_options")
    depends_on("spglib")
    depends_on("gemmi")  # CIF structures (simulate --structures); header-only use
    # single-precision FFTW with its threads library (libfftw3f_threads): the multislice simulator
    depends_on("fftw@3.3: precision=float")
    # TensorBoard event files (train --tensorboard): protoc and libprotobuf for the Event messages.
    depends_on("protobuf")
    # predict's plain-array inputs: TIFF stacks.
    depends_on("libtiff")
    # cbednet export/import: ONNX's protobuf classes and checker (ONNXConfig.cmake; built with ONNX_ML, the default).
    depends_on("onnx")
    # CPU math: oneDNN's sgemm runs the fp32 GEMMs (required by CMake; 2.6 is the oldest tested, Debian 12's);
    # a BLAS with the CBLAS interface the fp64 and complex ones. The BLAS shares the OpenMP thread pool with our
    # loops, so OpenBLAS must be its OpenMP build.
    depends_on("onednn@2.6:")
    depends_on("blas")
    depends_on("openblas threads=openmp", when="^[virtuals=blas] openblas")
    depends_on("googletest", type="test")
    depends_on("python@3.8:", type="run", when="+report")
    depends_on("py-numpy", type="run", when="+report")
    depends_on("py-matplotlib", type="run", when="+report")
    depends_on("py-h5py", type="run", when="+report")

    # nvcc compiles the CUDA sources as C++20 (CUDA 12+). The backend uses cuDNN's classic (non-graph) API,
    # present in 8.9 and 9.x; it is developed and tested against cuDNN 9.
    depends_on("cuda@12:", when="+cuda")
    depends_on("cudnn@8.9:", when="+cuda")
    depends_on("nccl@2.18:", when="+cuda")
    # --conv-api graph (kernels/cuda/conv_graph.cpp): cudnn-frontend's headers, only at build time (header-only;
    # the cuDNN they call is the dependency above). Our own recipe, Spack/packages/cudnn-frontend.
    depends_on("cudnn-frontend@1.32:", type="build", when="+cuda")
    # NCCL is compiled for the same GPU architectures as CBEDNet.
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"nccl cuda_arch={_arch}", when=f"+cuda cuda_arch={_arch}")

    conflicts("+cuda cuda_arch=none", msg="+cuda needs a GPU architecture, e.g. cuda_arch=90")
    conflicts("%gcc@:10", msg="CBEDNet is C++20: GCC 11 or newer")

    generator("ninja")

    def _mpiexec(self):
        """The launcher of the MPI this spec uses (None if that MPI has none, e.g. an srun-only external)."""
        for name in ("mpiexec", "mpirun"):
            path = join_path(self.spec["mpi"].prefix.bin, name)
            if os.path.isfile(path):
                return path
        return None

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define("CBEDNET_CUDA", "ON" if spec.satisfies("+cuda") else "OFF"),
            self.define("CBEDNET_BUILD_TESTS", self.run_tests),
            self.define("HDF5_PREFER_PARALLEL", True),
            # The MPI and BLAS of this spec, not whatever else is on PATH. CMake decides the launcher's
            # options (e.g. oversubscription for Open MPI 4 and 5) from MPIEXEC_EXECUTABLE itself.
            self.define("MPI_C_COMPILER", spec["mpi"].mpicc),
            self.define("CBEDNET_BLAS_LIBRARIES", spec["blas"].libs.joined(";")),
        ]
        mpiexec = self._mpiexec()
        if mpiexec:
            args.append(self.define("MPIEXEC_EXECUTABLE", mpiexec))
        blas_include = spec["blas"].headers.directories
        if blas_include:
            args.append(self.define("CBEDNET_CBLAS_INCLUDE_DIR", blas_include[0]))
        if spec.satisfies("+cuda"):
            archs = spec.variants["cuda_arch"].value
            args.append(self.define("CMAKE_CUDA_ARCHITECTURES", ";".join(archs)))
        return args

    def setup_build_environment(self, env):
        # cmake/CBEDNetCuda.cmake looks for cuDNN, NCCL and cudnn-frontend through these environment variables
        # too (before /opt/cbednet-py, where scripts/install-deps.sh puts the frontend's headers).
        if self.spec.satisfies("+cuda"):
            env.set("CUDNN_ROOT", self.spec["cudnn"].prefix)
            env.set("CUDNN_FRONTEND_ROOT", self.spec["cudnn-frontend"].prefix)
            env.set("NCCL_ROOT", self.spec["nccl"].prefix)

    def setup_run_environment(self, env):
        # The binary runs the report script under CBEDNET_PYTHON (default /usr/bin/python3, Debian's): point it
        # at the Python whose numpy, matplotlib and h5py this spec installed.
        if self.spec.satisfies("+report"):
            env.set("CBEDNET_PYTHON", self.spec["python"].command.path)

    def check(self):
        # `spack install --test=root`: CTest starts the MPI tests with the launcher CMake found (this spec's
        # MPI) and the options it chose for it (tests/CMakeLists.txt); nothing here is specific to one MPI.
        with working_dir(self.build_directory):
            ctest("--output-on-failure", "-LE", "gpu")

    # ---- stand-alone tests: `spack test run cbednet` (on the installed package, no build directory) ----------

    def _run_as_root_env(self):
        # Open MPI refuses to start as root without these (containers); other MPIs ignore them.
        os.environ["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        os.environ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"

    def test_version(self):
        """cbednet --version names the program, its MPI and its HDF5"""
        cbednet = which(self.prefix.bin.cbednet)
        out = cbednet("--version", output=str.split, error=str.split)
        assert "cbednet" in out, out
        assert "MPI" in out and "HDF5" in out, out

    def test_simulate_inspect(self):
        """simulate a tiny dataset on one rank and read it back"""
        self._run_as_root_env()
        cbednet = which(self.prefix.bin.cbednet)
        cbednet("simulate", "--out", "sim1", "--materials", "4", "--space-groups", "2,14", "--size", "32",
                "--seed", "1", "--quiet", output=str.split, error=str.split)
        out = cbednet("inspect", "sim1", output=str.split, error=str.split)
        assert "samples   40" in out, out

    def test_two_ranks(self):
        """simulate on two MPI ranks with this spec's launcher and read the dataset back"""
        mpiexec = self._mpiexec()
        if mpiexec is None:
            raise SkipTest(f"{self.spec['mpi'].name} has no mpiexec/mpirun in {self.spec['mpi'].prefix.bin}")
        self._run_as_root_env()
        launcher = which(mpiexec)
        # Two ranks on a one-core test node: Open MPI refuses more ranks than cores unless told.
        oversubscribe = []
        if self.spec.satisfies("^[virtuals=mpi] openmpi@5:"):
            oversubscribe = ["--map-by", ":OVERSUBSCRIBE"]
        elif self.spec.satisfies("^[virtuals=mpi] openmpi"):
            oversubscribe = ["--oversubscribe"]
        args = ["simulate", "--out", "sim2", "--materials", "4", "--space-groups", "2,14", "--size", "32"]
        launcher("-n", "2", *oversubscribe, self.prefix.bin.cbednet, *args, "--seed", "1", "--quiet",
                 output=str.split, error=str.split)
        out = which(self.prefix.bin.cbednet)("inspect", "sim2", output=str.split, error=str.split)
        assert "samples   40" in out, out
