# Spack recipe for CBEDNet (see docs/operations.md for how it was validated).
from spack.package import *


def _compiler_languages_are_virtual():
    """Spack 0.23 and later make compilers providers of the virtual packages `c` and `cxx` (Spack 1.0 only
    gives a package the compilers of the languages it depends on); the 0.23 development snapshots before that
    (as the one used to validate this recipe) have no such virtuals and cannot concretize a dependency on them.
    Decided by the version: asking the repository would import this package while it is being defined."""
    try:
        import spack

        info = tuple(spack.spack_version_info)
    except Exception:
        return True
    release = tuple(x for x in info[:3] if isinstance(x, int))
    development = len(info) > 3
    return release > (0, 23, 0) or (release == (0, 23, 0) and not development)


class Cbednet(CMakePackage, CudaPackage):
    """CBEDNet: MPI + CUDA/cuDNN C++20 trainer of ResNets that classify a crystal's space group from
    convergent-beam electron diffraction patterns (HDF5), with hybrid pipeline/data parallelism."""

    homepage = "https://github.com/cbednet/cbednet"
    git = "https://github.com/cbednet/cbednet.git"

    maintainers("cbednet")
    license("Apache-2.0")

    version("main", branch="main")
    version("0.1.0", tag="v0.1.0")

    # CPU math: OpenBLAS (OpenMP threading, one thread pool shared with our own loops) for GEMM, and
    # oneDNN's sgemm for the fp32 GEMMs. CMake currently requires oneDNN, so ~onednn is refused below.
    variant("onednn", default=True, description="Use oneDNN's sgemm for fp32 GEMMs on CPUs")
    # `cbednet report` and `inspect --preview` run share/cbednet/cbednet_report.py: Python with numpy,
    # matplotlib and h5py at run time (the binary itself links none of them).
    variant("report", default=True, description="Python, numpy, matplotlib and h5py for cbednet report")

    if _compiler_languages_are_virtual():
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
    depends_on("openblas threads=openmp")
    depends_on("onednn", when="+onednn")
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
    # NCCL is compiled for the same GPU architectures as CBEDNet.
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"nccl cuda_arch={_arch}", when=f"+cuda cuda_arch={_arch}")

    conflicts("~onednn", msg="CMakeLists.txt requires oneDNN (find_package(dnnl REQUIRED)) for now")
    conflicts("+cuda cuda_arch=none", msg="+cuda needs a GPU architecture, e.g. cuda_arch=90")
    conflicts("%gcc@:10", msg="CBEDNet is C++20: GCC 11 or newer")

    generator("ninja")

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define("CBEDNET_CUDA", "ON" if spec.satisfies("+cuda") else "OFF"),
            self.define("CBEDNET_BUILD_TESTS", self.run_tests),
            self.define("HDF5_PREFER_PARALLEL", True),
            self.define("BLA_VENDOR", "OpenBLAS"),
        ]
        if spec.satisfies("+cuda"):
            archs = spec.variants["cuda_arch"].value
            args.append(self.define("CMAKE_CUDA_ARCHITECTURES", ";".join(archs)))
        return args

    def setup_build_environment(self, env):
        # cmake/CBEDNetCuda.cmake looks for cuDNN and NCCL through these environment variables too.
        if self.spec.satisfies("+cuda"):
            env.set("CUDNN_ROOT", self.spec["cudnn"].prefix)
            env.set("NCCL_ROOT", self.spec["nccl"].prefix)

    def setup_run_environment(self, env):
        # The binary runs the report script under CBEDNET_PYTHON (default /usr/bin/python3, Debian's): point it
        # at the Python whose numpy, matplotlib and h5py this spec installed.
        if self.spec.satisfies("+report"):
            env.set("CBEDNET_PYTHON", self.spec["python"].command.path)

    def check(self):
        # CTest runs the MPI tests under mpiexec; oversubscribe so they run on small build nodes.
        with working_dir(self.build_directory):
            env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
            ctest("--output-on-failure", "-LE", "gpu")
