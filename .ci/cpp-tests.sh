#!/usr/bin/env bash
# Native build of the C++ kernel tests (every ISA this CPU supports vs the int64 reference) and a
# ctest run. Installs cmake/g++ when missing; safe to re-run.
# Usage: .ci/cpp-tests.sh [build-dir]   (default: build/native in the repository).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build/native}"

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || command -v c++ >/dev/null || need+=(g++)
command -v make >/dev/null || command -v ninja >/dev/null || need+=(make)
if ((${#need[@]})); then
  echo "cpp-tests.sh: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBITCONV_PYTHON=OFF -DBITCONV_TESTS=ON
cmake --build "$build" --target test_kernels -j "$(nproc)"
(cd "$build" && ctest --output-on-failure)  # --test-dir needs CMake 3.20; we declare 3.18
