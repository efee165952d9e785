# Run by ctest when it starts (TEST_INCLUDE_FILES): asks the test binary for its cases and
# registers each as its own ctest entry, labelled by its suite, so ctest counts, schedules
# and reports cases rather than whole suites.
#   TEST_BINARY  the Boost.Test executable
#   SUITE_LABELS "suite:label;label|suite:label|..."
execute_process(COMMAND "${TEST_BINARY}" --list_content
                ERROR_VARIABLE listing OUTPUT_VARIABLE listing_out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not list the test cases of ${TEST_BINARY}: ${listing_out}${listing}")
endif()
string(REPLACE "|" ";" suite_entries "${SUITE_LABELS}")
string(REPLACE "\n" ";" lines "${listing}")
set(suite "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([A-Za-z0-9_]+)\\*$")
    set(suite "${CMAKE_MATCH_1}")
  elseif(line MATCHES "^    ([A-Za-z0-9_]+)\\*$" AND suite)
    set(name "${suite}/${CMAKE_MATCH_1}")
    set(labels "")
    foreach(entry IN LISTS suite_entries)
      if(entry MATCHES "^${suite}:(.*)$")
        string(REPLACE "," ";" labels "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    add_test("${name}" "${TEST_BINARY}" "--run_test=${name}" --report_level=no --log_level=warning)
    set_tests_properties("${name}" PROPERTIES LABELS "${labels}" TIMEOUT 600)
  endif()
endforeach()
