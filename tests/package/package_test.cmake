# One package test (tests/package/CMakeLists.txt), run as `cmake -P` with:
#   MODE      install | subdirectory | pkgconfig
#   SOURCE    corobus's source tree;  WORK  a folder of this test's own (emptied first,
#             except for pkgconfig, which uses the install test's prefix)
#   GENERATOR, LAUNCHER (may be empty), CXX
# install: builds corobus alone (tests, examples, bench off) and installs it into WORK/prefix,
#   then builds the consumer against that prefix through find_package and runs it;
# subdirectory: builds the consumer with corobus as its subdirectory, both backends off;
# pkgconfig: compiles the consumer's main.cpp with `pkg-config --cflags --libs corobus` only.
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${rc}): ${command}")
  endif()
endfunction()

set(consumer ${SOURCE}/tests/package/consumer)
set(common -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=${CXX})
if(LAUNCHER)
  list(APPEND common -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE ${WORK})
  run(${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/corobus ${common} -DCOROBUS_BUILD_TESTS=OFF
      -DCOROBUS_BUILD_EXAMPLES=OFF -DCOROBUS_BUILD_BENCH=OFF -DCOROBUS_WITH_KAFKA=ON -DCOROBUS_WITH_NATS=ON)
  run(${CMAKE_COMMAND} --build ${WORK}/corobus)
  run(${CMAKE_COMMAND} --install ${WORK}/corobus --prefix ${WORK}/prefix)
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/consumer ${common} -DCMAKE_PREFIX_PATH=${WORK}/prefix)
  run(${CMAKE_COMMAND} --build ${WORK}/consumer)
  run(${WORK}/consumer/consumer 1 1)
elseif(MODE STREQUAL "subdirectory")
  file(REMOVE_RECURSE ${WORK})
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK} ${common} -DCOROBUS_SOURCE_DIR=${SOURCE}
      -DCOROBUS_WITH_KAFKA=OFF -DCOROBUS_WITH_NATS=OFF)
  run(${CMAKE_COMMAND} --build ${WORK})
  # As a subproject corobus builds its libraries only, and installs nothing.
  foreach(target corobus_tests quickstart corobus_bench)
    if(EXISTS ${WORK}/corobus/tests/${target} OR EXISTS ${WORK}/corobus/examples/${target}
       OR EXISTS ${WORK}/corobus/bench/${target})
      message(FATAL_ERROR "${target} was built inside the consumer's build")
    endif()
  endforeach()
  run(${WORK}/consumer 0 0)
elseif(MODE STREQUAL "pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "${WORK}/prefix/lib/pkgconfig:${WORK}/prefix/lib64/pkgconfig")
  execute_process(COMMAND pkg-config --cflags --libs corobus OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config finds no corobus under ${WORK}/prefix")
  endif()
  message(STATUS "pkg-config --cflags --libs corobus: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} -std=c++20 ${consumer}/main.cpp -o ${WORK}/pkgconfig_consumer ${flags})
  run(${WORK}/pkgconfig_consumer 1 1)
else()
  message(FATAL_ERROR "MODE must be install, subdirectory or pkgconfig")
endif()
