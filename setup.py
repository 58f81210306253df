"""setuptools driving CMake: builds the pybind11 extension bitconv._native."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DPYTHON_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        ninja = shutil.which("ninja")
        if ninja:
            # Pass the make program explicitly: a cached path from an earlier build env may be gone.
            args += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
            cache = build_dir / "CMakeCache.txt"
            if cache.exists():
                cache.unlink()
        subprocess.run(["cmake", str(ROOT), *args], cwd=build_dir, check=True)
        jobs = str(os.cpu_count() or 2)
        subprocess.run(["cmake", "--build", ".", "--target", "_native", "-j", jobs],
                       cwd=build_dir, check=True)


setup(ext_modules=[CMakeExtension("bitconv._native")], cmdclass={"build_ext": CMakeBuild})
