# cmake --install: the cbednet binary, the libraries and headers, and a CMake package (find_package(CBEDNet)).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS cbednet_core cbednet_io cbednet_project_options
  EXPORT CBEDNetTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cbednet)
install(DIRECTORY core kernels io DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cbednet
  FILES_MATCHING PATTERN "*.hpp")
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/generated/cbednet/build_info.hpp"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cbednet/cbednet)
install(EXPORT CBEDNetTargets NAMESPACE CBEDNet:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/CBEDNet)
configure_package_config_file(cmake/CBEDNetConfig.cmake.in "${CMAKE_CURRENT_BINARY_DIR}/CBEDNetConfig.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/CBEDNet)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/CBEDNetConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/CBEDNetConfig.cmake" "${CMAKE_CURRENT_BINARY_DIR}/CBEDNetConfigVersion.cmake"
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/CBEDNet)
