# Spack recipe for gemmi, which Spack's builtin repository (0.23) lacks: CBEDNet uses its headers only (CIF parser
# with the bundled PEGTL, symmetry tables) for simulate --structures.
from spack.package import *


class Gemmi(CMakePackage):
    """Gemmi: library for structural biology and crystallography (CIF, symmetry, unit cells)."""

    homepage = "https://gemmi.readthedocs.io"
    git = "https://github.com/project-gemmi/gemmi.git"

    license("MPL-2.0")

    # The version CBEDNet is developed against (Debian 12's gemmi-dev); a git tag, so no tarball checksum.
    version("0.5.7", tag="v0.5.7")

    depends_on("cmake@3.8:", type="build")
    depends_on("zlib-api")

    def cmake_args(self):
        return [self.define("USE_PYTHON", False), self.define("USE_FORTRAN", False)]
