# Run by ctest when it starts (TEST_INCLUDE_FILES): asks the test binary for its cases and
# registers each as its own ctest entry, so ctest counts, schedules and reports cases rather
# than whole suites. Labels come from the suites themselves (a Boost.Test label decorator on
# BOOST_AUTO_TEST_SUITE); a suite without one is an error, so none ends up unlabelled.
#   TEST_BINARY    the Boost.Test executable
#   TEST_EMULATOR  what runs it in a cross build (CMAKE_CROSSCOMPILING_EMULATOR), else empty
#   NATS_SERVER_CURRENT  a current nats-server: each case of a suite labelled nats is
#                  registered again as `<case>@nats_current`, labelled nats_current instead,
#                  with that server first in PATH; empty: one failing entry says it is missing
#   NATS_SERVER_CURRENT_VERSION  its version, which nats_server checks it runs
#   KAFKA_BROKER_LIBS  the real Kafka broker's jars, in every entry's environment (the
#                  kafka_broker cases fail, saying so, without them)
#   KAFKA_BROKER_PROGRAM, KAFKA_BROKER_DIR  corobus_kafka_broker and its folder: the fixture
#                  kafka_broker starts one broker for every kafka_broker case of the run
#   CMAKE_PROGRAM  cmake, for that entry
function(list_content out format)
  execute_process(COMMAND ${TEST_EMULATOR} "${TEST_BINARY}" "--list_content=${format}"
                  ERROR_VARIABLE listing OUTPUT_VARIABLE listing_out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "could not list the test cases of ${TEST_BINARY}: ${listing_out}${listing}")
  endif()
  set(${out} "${listing}" PARENT_SCOPE)
endfunction()

# Boost 1.81 prints labels only in the DOT listing: label="<suite>|<file>(<line>)|labels: @a @b".
list_content(dot DOT)
string(REGEX MATCHALL "label=\"[A-Za-z0-9_]+\\|[^|\"]*\\|labels:[^\"]*\"" labelled "${dot}")
foreach(entry IN LISTS labelled)
  string(REGEX MATCH "label=\"([A-Za-z0-9_]+)\\|[^|\"]*\\|labels:([^\"]*)\"" _ "${entry}")
  set(suite "${CMAKE_MATCH_1}")
  string(REGEX MATCHALL "@[A-Za-z0-9_]+" names "${CMAKE_MATCH_2}")
  list(TRANSFORM names REPLACE "^@" "")
  set("labels_of_${suite}" "${names}")
endforeach()

# One ctest entry running the Boost.Test case `run`, with `ARGN` added to its environment.
function(register_case name run labels)
  add_test("${name}" ${TEST_EMULATOR} "${TEST_BINARY}" "--run_test=${run}" --report_level=no --log_level=warning)
  set(environment "COROBUS_KAFKA_BROKER_LIBS=${KAFKA_BROKER_LIBS}" ${ARGN})
  set(locks "")
  # A cluster of servers per case (3 nats-servers, with kills and failovers): one at a time,
  # so that two of them never share the 2 cores with each other's elections.
  list(FIND labels cluster at)
  if(at GREATER -1)
    list(APPEND locks cluster)
  endif()
  # The real Kafka broker's cases: on the broker the fixture keeps (each clears it first), one
  # at a time, and never beside a cluster case (a JVM per node besides).
  list(FIND labels kafka_broker at)
  if(at GREATER -1)
    list(APPEND locks cluster kafka_broker)
    list(APPEND environment "COROBUS_KAFKA_SHARED_BROKER=${KAFKA_BROKER_DIR}")
    set_tests_properties("${name}" PROPERTIES FIXTURES_REQUIRED kafka_broker)
  endif()
  set_tests_properties("${name}" PROPERTIES LABELS "${labels}" TIMEOUT 600 ENVIRONMENT "${environment}")
  if(locks)
    set_tests_properties("${name}" PROPERTIES RESOURCE_LOCK "${locks}")
  endif()
endfunction()

add_test(kafka_broker/start ${TEST_EMULATOR} "${KAFKA_BROKER_PROGRAM}" start "${KAFKA_BROKER_DIR}")
add_test(kafka_broker/stop ${TEST_EMULATOR} "${KAFKA_BROKER_PROGRAM}" stop "${KAFKA_BROKER_DIR}")
set_tests_properties(kafka_broker/start PROPERTIES FIXTURES_SETUP kafka_broker LABELS kafka_broker TIMEOUT 120
                     ENVIRONMENT "COROBUS_KAFKA_BROKER_LIBS=${KAFKA_BROKER_LIBS}")
set_tests_properties(kafka_broker/stop PROPERTIES FIXTURES_CLEANUP kafka_broker LABELS kafka_broker TIMEOUT 60)

list_content(listing HRF)
string(REPLACE "\n" ";" lines "${listing}")
set(suite "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([A-Za-z0-9_]+)\\*$")
    set(suite "${CMAKE_MATCH_1}")
    if(NOT DEFINED "labels_of_${suite}")
      message(FATAL_ERROR "test suite ${suite} has no label: BOOST_AUTO_TEST_SUITE(${suite}, *boost::unit_test::label(\"...\"))")
    endif()
  elseif(line MATCHES "^    ([A-Za-z0-9_]+)\\*$" AND suite)
    set(name "${suite}/${CMAKE_MATCH_1}")
    register_case("${name}" "${name}" "${labels_of_${suite}}")
    list(FIND "labels_of_${suite}" nats at)  # (ctest runs this without policy CMP0057: no IN_LIST)
    if(at GREATER -1 AND NATS_SERVER_CURRENT)
      set(labels "${labels_of_${suite}}")
      list(REMOVE_ITEM labels nats)
      list(APPEND labels nats_current)
      get_filename_component(dir "${NATS_SERVER_CURRENT}" DIRECTORY)
      register_case("${name}@nats_current" "${name}" "${labels}" "PATH=${dir}:$ENV{PATH}"
                    "COROBUS_EXPECTED_NATS_SERVER=${NATS_SERVER_CURRENT_VERSION}")
    elseif(at GREATER -1)
      set(nats_current_missing ON)
    endif()
  endif()
endforeach()

# Never skipped silently: without the current server its tests fail, saying so.
if(nats_current_missing)
  add_test(nats_current/missing_run_dev_test_to_build_it "${CMAKE_PROGRAM}" -E false)
  set_tests_properties(nats_current/missing_run_dev_test_to_build_it PROPERTIES LABELS "nats_current")
endif()
