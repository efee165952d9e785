# One package test (tests/package/CMakeLists.txt), run as `cmake -P` with:
#   MODE      install | subdirectory | pkgconfig
#   SOURCE    corobus's source tree;  WORK  a folder of this test's own (emptied first,
#             except for pkgconfig, which uses the release install test's prefix)
#   GENERATOR, LAUNCHER (may be empty), CXX
#   BUILD     with install: release (the release preset: asio compiled once inside corobus)
#             or default (a plain `cmake -B build`)
# install: builds corobus alone (tests, examples, bench off) and installs it into WORK/prefix,
#   then builds the consumer against that prefix through find_package;
# subdirectory: builds the consumer with corobus as its subdirectory, both backends off;
# pkgconfig: compiles the consumer's main.cpp with `pkg-config --cflags --libs corobus` only,
#   and checks that a translation unit whose asio differs from corobus's does not link.
# Every consumer runs twice: as built, and built with AddressSanitizer.
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${rc}): ${command}")
  endif()
endfunction()

set(consumer ${SOURCE}/tests/package/consumer)
set(common -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX})
if(LAUNCHER)
  list(APPEND common -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
set(asan_flags -fsanitize=address -fno-omit-frame-pointer)
list(JOIN asan_flags " " asan_flags_string)

# Configures, builds and runs the consumer from `dir`, as built and with AddressSanitizer (in
# dir-asan). ARGN: the consumer's configure arguments, then `--` and its command-line arguments.
function(build_and_run_consumer dir)
  list(FIND ARGN -- split)
  list(SUBLIST ARGN 0 ${split} configure)
  math(EXPR first_arg "${split} + 1")
  list(SUBLIST ARGN ${first_arg} -1 args)
  foreach(variant plain asan)
    set(build ${dir})
    set(flags "")
    if(variant STREQUAL "asan")
      set(build ${dir}-asan)
      set(flags -DCMAKE_CXX_FLAGS=${asan_flags_string})
    endif()
    run(${CMAKE_COMMAND} -S ${consumer} -B ${build} ${common} ${flags} ${configure})
    run(${CMAKE_COMMAND} --build ${build})
    message(STATUS "consumer (${variant}): ${build}/consumer ${args}")
    run(${build}/consumer ${args})
  endforeach()
endfunction()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE ${WORK})
  set(only_the_library -DCOROBUS_BUILD_TESTS=OFF -DCOROBUS_BUILD_EXAMPLES=OFF -DCOROBUS_BUILD_BENCH=OFF
                       -DCOROBUS_WITH_KAFKA=ON -DCOROBUS_WITH_NATS=ON)
  if(BUILD STREQUAL "release")
    # The preset itself, so that what ./dev builds is what is tested.
    run(${CMAKE_COMMAND} --preset release -S ${SOURCE} -B ${WORK}/corobus ${common} ${only_the_library})
  elseif(BUILD STREQUAL "default")
    run(${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/corobus ${common} ${only_the_library})
  else()
    message(FATAL_ERROR "BUILD must be release or default")
  endif()
  run(${CMAKE_COMMAND} --build ${WORK}/corobus)
  run(${CMAKE_COMMAND} --install ${WORK}/corobus --prefix ${WORK}/prefix)
  build_and_run_consumer(${WORK}/consumer -DCMAKE_PREFIX_PATH=${WORK}/prefix -- 1 1)
elseif(MODE STREQUAL "subdirectory")
  file(REMOVE_RECURSE ${WORK})
  build_and_run_consumer(${WORK}/consumer -DCOROBUS_SOURCE_DIR=${SOURCE} -DCOROBUS_WITH_KAFKA=OFF
                         -DCOROBUS_WITH_NATS=OFF -- 0 0)
  # As a subproject corobus builds its libraries only, and installs nothing.
  foreach(target corobus_tests quickstart corobus_bench)
    if(EXISTS ${WORK}/consumer/corobus/tests/${target} OR EXISTS ${WORK}/consumer/corobus/examples/${target}
       OR EXISTS ${WORK}/consumer/corobus/bench/${target})
      message(FATAL_ERROR "${target} was built inside the consumer's build")
    endif()
  endforeach()
elseif(MODE STREQUAL "pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "${WORK}/prefix/lib/pkgconfig:${WORK}/prefix/lib64/pkgconfig")
  execute_process(COMMAND pkg-config --cflags --libs corobus OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config finds no corobus under ${WORK}/prefix")
  endif()
  message(STATUS "pkg-config --cflags --libs corobus: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  foreach(variant plain asan)
    set(program ${WORK}/pkgconfig_consumer_${variant})
    set(extra "")
    if(variant STREQUAL "asan")
      set(extra ${asan_flags})
    endif()
    run(${CXX} -std=c++20 ${extra} ${consumer}/main.cpp -o ${program} ${flags})
    run(${program} 1 1)
  endforeach()

  # The same program with asio's deprecated parts back (as if it had forgotten corobus's
  # -DBOOST_ASIO_NO_DEPRECATED): it must not link, and the error must say why.
  list(REMOVE_ITEM flags -DBOOST_ASIO_NO_DEPRECATED)
  execute_process(COMMAND ${CXX} -std=c++20 ${consumer}/main.cpp -o ${WORK}/pkgconfig_consumer_mismatch ${flags}
                  RESULT_VARIABLE rc ERROR_VARIABLE errors)
  if(rc EQUAL 0)
    message(FATAL_ERROR "a consumer with another asio configuration than corobus's linked")
  endif()
  if(NOT errors MATCHES "asio_configuration_is")
    message(FATAL_ERROR "a consumer with another asio configuration failed, but not on the check:\n${errors}")
  endif()
  message(STATUS "a consumer with asio's deprecated parts does not link, as it must not")
else()
  message(FATAL_ERROR "MODE must be install, subdirectory or pkgconfig")
endif()
