# `cmake --install`: the libraries, the public headers, the CMake package (corobusTargets
# with the corobus:: names, corobusConfig.cmake that finds the dependencies again and offers
# the backends as components) and corobus.pc for pkg-config.
include(CMakePackageConfigHelpers)

set(corobus_installed corobus corobus_runtime corobus_envelope corobus_eventbus corobus_awaitables
    corobus_awaitables_common)
install(DIRECTORY runtime/include/ eventbus/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES awaitables/include/corobus/awaitables/topic_strategy.hpp
              awaitables/include/corobus/awaitables/nats_security.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/corobus/awaitables)
set(corobus_pc_requires "spdlog fmt")
set(corobus_pc_libs "-lcorobus_eventbus -lcorobus_envelope")
foreach(client kafka nats)
  string(TOUPPER ${client} upper)
  if(COROBUS_HAVE_${upper})
    list(APPEND corobus_installed corobus_awaitables_${client})
    install(DIRECTORY awaitables/include/corobus/awaitables/${client}
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/corobus/awaitables)
    string(APPEND corobus_pc_libs " -lcorobus_awaitables_${client}")
  endif()
endforeach()
if(COROBUS_HAVE_KAFKA)
  string(APPEND corobus_pc_requires " rdkafka")
endif()
if(COROBUS_HAVE_NATS)
  string(APPEND corobus_pc_requires " libnats")
endif()
string(APPEND corobus_pc_libs " -lcorobus_runtime -lboost_json -pthread")

install(TARGETS ${corobus_installed} EXPORT corobusTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set(corobus_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/corobus)
install(EXPORT corobusTargets NAMESPACE corobus:: DESTINATION ${corobus_cmake_dir})
configure_package_config_file(cmake/corobusConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/corobusConfig.cmake
                              INSTALL_DESTINATION ${corobus_cmake_dir})
# 0.x: a minor version may break what the one before offered.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/corobusConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/corobusConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/corobusConfigVersion.cmake
        DESTINATION ${corobus_cmake_dir})

# The asio settings corobus was built with are the consumer's too (cmake/corobus_dependencies.cmake).
list(TRANSFORM COROBUS_ASIO_DEFINITIONS PREPEND " -D" OUTPUT_VARIABLE corobus_pc_cflags)
list(JOIN corobus_pc_cflags "" corobus_pc_cflags)
# Relocatable: the prefix is found from where the .pc file lies (`cmake --install --prefix`).
file(RELATIVE_PATH corobus_pc_up /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" corobus_pc_up "${corobus_pc_up}")
configure_file(cmake/corobus.pc.in ${CMAKE_CURRENT_BINARY_DIR}/corobus.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/corobus.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
