# Cross-building cleave for aarch64 (the edge boards the papers use:
# Raspberry Pi 4, Cortex-A72, Jetson) on Debian with gcc-aarch64-linux-gnu
# and the arm64 multiarch libraries (dpkg --add-architecture arm64;
# scripts/test-aarch64.sh installs them). The tests then run under
# qemu-user-static through CMAKE_CROSSCOMPILING_EMULATOR, so plain ctest
# works:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
# Debian's multiarch layout: libraries in /usr/lib/aarch64-linux-gnu,
# which this makes find_library() search; host programs (protoc-c) are
# found as usual.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# -L /: the arm64 loader and libraries of the multiarch root.
# OpenBLAS's threads spin at start-up under qemu unless told to stay one.
set(CMAKE_CROSSCOMPILING_EMULATOR
    env;CLEAVE_TEST_EMULATED=1;OPENBLAS_NUM_THREADS=1;qemu-aarch64-static;-L;/)
