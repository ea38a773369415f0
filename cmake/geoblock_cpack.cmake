# Read by cpack for each generator. A Debian package must not install into
# /usr/local, and its units must name the binary where it is installed, so
# refuse to build one from a tree configured with another prefix.
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "geoblock: the Debian package needs a build configured with "
                      "-DCMAKE_INSTALL_PREFIX=/usr (this one uses ${CPACK_PACKAGING_INSTALL_PREFIX})")
endif()
