# What corobus needs, found once for the build and again (the same way) by the installed
# package's corobusConfig.cmake.

find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json)
find_package(spdlog CONFIG REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# asio's build settings change what its headers compile to (its separate compilation, its
# deprecated parts, the layout of its per-thread recycling cache), and corobus is compiled code
# that includes asio: every translation unit of a program must agree. So the settings corobus
# is built with are public (target definitions of corobus::runtime, and corobus.pc's Cflags),
# and runtime/asio_configuration.hpp makes a translation unit that differs a link error.
option(COROBUS_ASIO_SEPARATE_COMPILATION
       "Compile asio once inside corobus_runtime; consumers then use that compiled asio" OFF)
option(COROBUS_ASIO_NO_DEPRECATED "Build without asio's deprecated parts (and so do consumers)" ON)
set(COROBUS_ASIO_RECYCLING_CACHE_SIZE "" CACHE STRING
    "asio's per-thread cache of recycled frames and handlers (empty: asio's default of 2)")
set(COROBUS_ASIO_DEFINITIONS "")
if(COROBUS_ASIO_SEPARATE_COMPILATION)
  list(APPEND COROBUS_ASIO_DEFINITIONS BOOST_ASIO_SEPARATE_COMPILATION)
endif()
if(COROBUS_ASIO_NO_DEPRECATED)
  list(APPEND COROBUS_ASIO_DEFINITIONS BOOST_ASIO_NO_DEPRECATED)
endif()
if(NOT COROBUS_ASIO_RECYCLING_CACHE_SIZE STREQUAL "")
  # A publish or a handler call nests three coroutine frames, more than asio's default of 2 keeps.
  list(APPEND COROBUS_ASIO_DEFINITIONS BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=${COROBUS_ASIO_RECYCLING_CACHE_SIZE})
endif()

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
