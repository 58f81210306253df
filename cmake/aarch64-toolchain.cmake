# Cross-compiling for AArch64 Linux with Debian's GNU cross toolchain (g++-aarch64-linux-gnu).
# Use: cmake -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-toolchain.cmake ...; run the results with
# qemu-aarch64 (static binaries, or -L /usr/aarch64-linux-gnu for dynamic ones).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(BITCONV_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "Prefix of the AArch64 cross tools")
set(CMAKE_C_COMPILER "${BITCONV_CROSS_PREFIX}gcc")
set(CMAKE_CXX_COMPILER "${BITCONV_CROSS_PREFIX}g++")

# Target libraries and headers only from the cross sysroot; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Lets ctest run the cross-built tests through the emulator when it is installed.
find_program(BITCONV_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(BITCONV_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${BITCONV_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu")
endif()
