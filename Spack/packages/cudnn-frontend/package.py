# Spack recipe for cudnn-frontend, which Spack's builtin repository (0.23) lacks: CBEDNet's CUDA configuration
# compiles kernels/cuda/conv_graph.cpp against its headers (cuDNN's graph API). Only include/ is installed: the
# samples, tests and Python bindings of the repository are not built.
from spack.package import *


class CudnnFrontend(Package):
    """cuDNN FrontEnd: NVIDIA's header-only C++ API over cuDNN's graph (backend) API."""

    homepage = "https://github.com/NVIDIA/cudnn-frontend"
    git = "https://github.com/NVIDIA/cudnn-frontend.git"

    license("MIT")

    # Git tags, so no tarball checksums (none could be computed offline). 1.32.0 is the version CBEDNet is
    # developed against (scripts/install-deps.sh pins the PyPI wheel nvidia-cudnn-frontend 1.32.0); its tag's
    # commit could not be verified offline (the snapshot of the repository that was checked ends at v1.23.0), so
    # it is not pinned: pin it with commit="<40-hex>" once checked. v1.23.0's commit was read from that snapshot.
    version("1.32.0", tag="v1.32.0")
    version("1.23.0", tag="v1.23.0", commit="fb682ce761a2705e40f9b5d528737a3e0eb33cec")

    # The headers include cudnn.h and call libcudnn: whoever compiles against them needs cuDNN's headers and
    # library (a link dependency, so it reaches the dependents' build). 8.5 is the minimum its README states.
    depends_on("cudnn@8.5:")

    def install(self, spec, prefix):
        install_tree("include", prefix.include)
