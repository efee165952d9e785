# Cross-compiling for 64-bit ARM Linux with Debian's cross toolchain and its multiarch
# :arm64 libraries (./dev cross installs both). Tests run under qemu-user through the
# emulator; the servers they start (nats-server) may be the host's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Libraries and headers from the target's multiarch folders only; programs from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# librdkafka and cnats are found through pkg-config: the target's .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# qemu-aarch64 finds the target's loader where multiarch put it (/lib/ld-linux-aarch64.so.1).
# Not `-L /usr/aarch64-linux-gnu`: that loader is the cross toolchain's glibc (2.36-8cross1),
# the libraries loaded are libc6:arm64's (2.36-9+deb12u14), and the mismatch hangs the first
# pthread_create in a spin.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
