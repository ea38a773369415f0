# Installation layout (GNUInstallDirs) and the Debian package (CPack DEB).
#
#   prefix/sbin/geoblock                      the binary (top-level CMakeLists)
#   prefix/lib/systemd/system/geoblock*.{service,timer}
#   /etc/cron.d/geoblock                      inert on systemd hosts
#   /etc/geoblock/geoblock.conf               all defaults, commented out
#   prefix/share/doc/geoblock/operations.md
#   prefix/share/doc/geoblock/examples/{geoblock.conf,countries.cfg}.example
#   prefix/share/bash-completion/completions/geoblock
#
# The units and the cron entry name /usr/sbin/geoblock; they are rewritten
# at install time to the sbin directory under the prefix actually used
# (cmake --install --prefix, or the package's /usr).
# cron only reads /etc/cron.d and the binary reads /etc/geoblock, whatever
# the prefix, hence an absolute directory (DESTDIR still applies).
set(GEOBLOCK_SYSCONFDIR "/etc" CACHE PATH "Directory holding cron.d/ and geoblock/ (absolute)")
set(GEOBLOCK_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "systemd system unit directory, relative to the prefix or absolute")

# Installs a file from the source tree with the installed paths substituted.
# The substitution runs at install time, so it sees the prefix given to
# "cmake --install --prefix" or by cpack; the copy goes through a directory
# of its own so that concurrent installs from one build tree do not race.
function(geoblock_install_rewritten source destination)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_SBINDIR}")
    set(sbin "${CMAKE_INSTALL_SBINDIR}")
  else()
    set(sbin "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}")
  endif()
  if(IS_ABSOLUTE "${CMAKE_INSTALL_DOCDIR}")
    set(doc "${CMAKE_INSTALL_DOCDIR}")
  else()
    set(doc "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}")
  endif()
  if(IS_ABSOLUTE "${destination}")
    set(dest "${destination}")
  else()
    set(dest "\${CMAKE_INSTALL_PREFIX}/${destination}")
  endif()
  get_filename_component(name "${source}" NAME)
  install(CODE "
    file(READ \"${PROJECT_SOURCE_DIR}/${source}\" geoblock_text)
    string(REPLACE \"/usr/sbin/geoblock\" \"${sbin}/geoblock\" geoblock_text \"\${geoblock_text}\")
    string(REPLACE \"/usr/share/doc/geoblock\" \"${doc}\" geoblock_text \"\${geoblock_text}\")
    string(RANDOM LENGTH 12 geoblock_tag)
    set(geoblock_tmp \"${PROJECT_BINARY_DIR}/packaging/install-\${geoblock_tag}\")
    file(WRITE \"\${geoblock_tmp}/${name}\" \"\${geoblock_text}\")
    file(INSTALL DESTINATION \"${dest}\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES \"\${geoblock_tmp}/${name}\")
    file(REMOVE_RECURSE \"\${geoblock_tmp}\")
  ")
endfunction()

foreach(unit geoblock.service geoblock.timer geoblock-restore.service geoblock-metrics.service
             geoblock-metrics.timer)
  geoblock_install_rewritten("systemd/${unit}" "${GEOBLOCK_SYSTEMD_UNITDIR}")
endforeach()
geoblock_install_rewritten(cron/geoblock "${GEOBLOCK_SYSCONFDIR}/cron.d")

# The configuration file ships with every key commented out (the defaults);
# countries.cfg does not ship: which countries to block is the
# administrator's decision, and geoblock refuses to run without it.
install(FILES geoblock.conf.example DESTINATION "${GEOBLOCK_SYSCONFDIR}/geoblock" RENAME geoblock.conf
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES geoblock.conf.example countries.cfg.example DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples")
install(FILES docs/operations.md docs/security.md docs/accounting.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
# The Grafana dashboard of the metrics (docs/accounting.md).
install(FILES contrib/grafana/geoblock.json DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples/grafana")
# The unprivileged user the downloads run as (fetch-user; docs/security.md).
# systemd-sysusers reads this at boot; the package's postinst creates the
# user at once. A plain "cmake --install" onto this system (no DESTDIR,
# prefix /usr or /usr/local, as root) creates it too, as scripts/setup does.
install(FILES systemd/geoblock.sysusers DESTINATION lib/sysusers.d RENAME geoblock.conf)
# /var/cache/geoblock/v4 and v6, owned by that user (so the units need no
# CAP_CHOWN): systemd-tmpfiles at boot, the postinst at once.
install(FILES systemd/geoblock.tmpfiles DESTINATION lib/tmpfiles.d RENAME geoblock.conf)
install(CODE [[
  if("$ENV{DESTDIR}" STREQUAL "" AND CMAKE_INSTALL_PREFIX MATCHES "^/usr(/local)?/?$")
    execute_process(COMMAND id -u OUTPUT_VARIABLE geoblock_uid OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND getent passwd geoblock RESULT_VARIABLE geoblock_missing OUTPUT_QUIET)
    if(geoblock_uid STREQUAL "0" AND NOT geoblock_missing EQUAL 0)
      message(STATUS "Creating the system user geoblock (downloads run as it)")
      execute_process(COMMAND adduser --system --group --no-create-home --home /nonexistent --quiet geoblock)
    endif()
    if(geoblock_uid STREQUAL "0" AND EXISTS "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d/geoblock.conf")
      execute_process(COMMAND systemd-tmpfiles --create "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d/geoblock.conf"
                      RESULT_VARIABLE geoblock_ignored)
    endif()
  endif()
]])
# bash-completion loads completions/<command> the first time it is needed.
install(FILES completion/geoblock DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions")

# --- Debian package: "cpack -G DEB" in the build directory -----------------
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "geoblock")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "geoblock maintainers <root@localhost>" CACHE STRING "Maintainer of the Debian package")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "keeps a Linux firewall's country blocklist current")
set(CPACK_PACKAGE_DESCRIPTION
    "geoblock downloads per-country CIDR lists (ipdeny.com style, a zip bundle or\n"
    "MaxMind GeoLite2 CSV), aggregates them, loads them into ipset hash:net sets\n"
    "swapped in atomically, and installs one iptables DROP rule per family.\n"
    "A systemd timer (or cron on other hosts) refreshes the lists monthly and a\n"
    "boot unit restores them from the cache before the saved firewall loads.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
# Debian packages live in /usr whatever the build's own prefix.
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Explicit rather than dpkg-shlibdeps, so the list is reviewed: the shared
# libraries the binary links (tests/ops checks each is covered) and the
# tools the applier runs.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libstdc++6, libgcc-s1, libcurl4, libzip4, libboost-program-options1.74.0, libipset13, libssl3, libnftnl11, libmnl0, libnftables1, libseccomp2, libmaxminddb0, zlib1g, ipset, iptables, adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "netfilter-persistent, cron")
set(_geoblock_gen "${PROJECT_BINARY_DIR}/packaging")
configure_file("${PROJECT_SOURCE_DIR}/cmake/debian/conffiles.in" "${_geoblock_gen}/debian/conffiles" @ONLY)
configure_file("${PROJECT_SOURCE_DIR}/cmake/debian/postinst" "${_geoblock_gen}/debian/postinst" COPYONLY
               FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
configure_file("${PROJECT_SOURCE_DIR}/cmake/debian/postrm" "${_geoblock_gen}/debian/postrm" COPYONLY
               FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_geoblock_gen}/debian/conffiles;${_geoblock_gen}/debian/postinst;${_geoblock_gen}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
