#!/usr/bin/env bash
# Cross-builds the C++ kernel tests for AArch64 and runs them under qemu-aarch64 (NEON vs the int64
# reference and the scalar path). Installs its Debian packages when missing; safe to re-run.
# Usage: .ci/neon.sh [build-dir [seed]]   (default build dir: build/aarch64 in the repository).
# Exit status is the test's (non-zero on any failure).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build/aarch64}"
shift || true

need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v cmake >/dev/null || need+=(cmake)
command -v make >/dev/null || command -v ninja >/dev/null || need+=(make)
if ((${#need[@]})); then
  echo "neon.sh: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cmake -S "$root" -B "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBITCONV_PYTHON=OFF -DBITCONV_TESTS=ON \
  -DCMAKE_EXE_LINKER_FLAGS="-static"
cmake --build "$build" --target test_kernels -j "$(nproc)"

echo "neon.sh: running test_kernels under qemu-aarch64"
start=$(date +%s)
status=0
qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/test_kernels" "$@" || status=$?
echo "neon.sh: exit status $status after $(( $(date +%s) - start )) s"
exit "$status"
