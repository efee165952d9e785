# What corobus needs, found once for the build and again (the same way) by the installed
# package's corobusConfig.cmake.

find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json)
find_package(spdlog CONFIG REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# asio's build settings change what its headers compile to (its separate compilation, the
# layout of its per-thread recycling cache), so the ones corobus is built with are public:
# every translation unit that includes asio must agree. Off by default, so a consumer's asio
# stays as it is; the presets (./dev) turn them on.
option(COROBUS_ASIO_SEPARATE_COMPILATION
       "Compile asio once inside corobus_runtime; consumers then use that compiled asio" OFF)
set(COROBUS_ASIO_RECYCLING_CACHE_SIZE "" CACHE STRING
    "asio's per-thread cache of recycled frames and handlers (empty: asio's default of 2)")

# A backend: AUTO (the default) builds it when its library is found; ON requires it, naming
# the package to install; OFF leaves it out. The bus refuses a backend left out with an
# invalid_config error. Debian's CMake configs for librdkafka and cnats are not usable; their
# pkg-config files are.
function(corobus_backend name module package)
  set(COROBUS_WITH_${name} AUTO CACHE STRING "Build the ${name} backend: AUTO, ON or OFF")
  set_property(CACHE COROBUS_WITH_${name} PROPERTY STRINGS AUTO ON OFF)
  set(have OFF)
  if(NOT COROBUS_WITH_${name} STREQUAL "OFF")
    pkg_check_modules(${name}_LIB QUIET IMPORTED_TARGET GLOBAL ${module})
    if(${name}_LIB_FOUND)
      set(have ON)
    elseif(COROBUS_WITH_${name} STREQUAL "ON")
      message(FATAL_ERROR "COROBUS_WITH_${name}=ON but pkg-config finds no '${module}': install ${package}")
    endif()
  endif()
  message(STATUS "corobus: ${name} backend ${have}")
  set(COROBUS_HAVE_${name} ${have} PARENT_SCOPE)
endfunction()

corobus_backend(KAFKA rdkafka "librdkafka-dev (librdkafka 2.x)")
corobus_backend(NATS libnats "libnats-dev (cnats 3.x)")
