"""Build every Cython kernel in the tree (``**/*.pyx``).

OpenMP is used when the compiler supports it; set ``RECZILLA_NO_OPENMP=1``
to build single-threaded kernels instead.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

PACKAGES = ("Data_manager", "Experiment_handler", "Recommenders")


def compiler_supports_openmp() -> bool:
    """True when the C compiler builds and links a trivial OpenMP program."""
    if os.environ.get("RECZILLA_NO_OPENMP") == "1":
        return False
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder, "probe.c")
        source.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        result = subprocess.run(
            [compiler, "-fopenmp", str(source), "-o", str(Path(folder, "probe"))],
            capture_output=True,
        )
    return result.returncode == 0


def extensions() -> list[Extension]:
    openmp_flags = ["-fopenmp"] if compiler_supports_openmp() else []
    modules = []
    for package in PACKAGES:
        for pyx in sorted(Path(package).rglob("*.pyx")):
            modules.append(
                Extension(
                    ".".join(pyx.with_suffix("").parts),
                    [str(pyx)],
                    include_dirs=[numpy.get_include()],
                    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                    extra_compile_args=["-O3", *openmp_flags],
                    extra_link_args=openmp_flags,
                )
            )
    return cythonize(
        modules,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(ext_modules=extensions())
