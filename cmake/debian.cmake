# Debian packages from the install rules above, with CPack's DEB generator
# (scripts/package.sh deb runs it):
#
#   libasset-cache0      the shared library and its soname link (component runtime)
#   libasset-cache-dev   the .so link, the static library, asset_cache.h,
#                        asset_cache.hpp, the pkg-config files and the CMake
#                        package (component dev); depends on the exact
#                        libasset-cache0 it was built with
#   libasset-cache0-dbgsym  the shared library's debug info (component dbgsym)
#
# The split and the names follow Debian's library packaging policy (runtime
# package named after the soname, -dev for building), so that several
# programs share one runtime and a future soname 1 can be installed beside 0.
# Configure with -DCMAKE_INSTALL_PREFIX=/usr: GNUInstallDirs then puts the
# libraries in the multiarch folder (lib/x86_64-linux-gnu), as Debian does.
# The libraries are stripped when staged (see CMakeLists.txt); the shared
# library's debug info goes to the -dbgsym package, the archive's is dropped
# (target/release keeps the unstripped ones).

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME asset-cache)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "asset-cache developers <dev@asset-cache.invalid>")
# Each component's description below starts with its one-line summary.
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/asset-cache/asset-cache")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)

# Install through DESTDIR so that the pkg-config files, written at install
# time from CMAKE_INSTALL_PREFIX, say /usr and not CPack's staging folder.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev dbgsym)
set(_runtime_pkg "libasset-cache${SOVERSION}")
set(_deb_version "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${_runtime_pkg})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# Depends: libc6 (>= the newest symbol version used), from dpkg-shlibdeps.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# A shlibs file, so that packages built against this one get their
# Depends from dpkg-shlibdeps in turn; the library is in /usr/lib/<triplet>,
# so CPack also adds the ldconfig calls to postinst and postrm.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
    "multi-process-safe cache of JSON assets - shared library
asset-cache keeps JSON assets keyed by id in <dir>/<name>.json, shared safely
by processes through <name>.lock, with the files, lock and expiry rules of the
AssetCache of the aiXplain Python SDK. This package holds the shared library.")

# The shared library's debug info, as Debian's automatic -dbgsym packages
# hold it: /usr/lib/debug/.build-id/<first 2 hex digits>/<rest>.debug, where
# gdb and debuginfod look by the library's build id.
set(CPACK_DEBIAN_DBGSYM_PACKAGE_NAME ${_runtime_pkg}-dbgsym)
set(CPACK_DEBIAN_DBGSYM_PACKAGE_SECTION debug)
set(CPACK_DEBIAN_DBGSYM_PACKAGE_DEPENDS "${_runtime_pkg} (= ${_deb_version})")
set(CPACK_DEBIAN_DBGSYM_DESCRIPTION
    "multi-process-safe cache of JSON assets - debug symbols
The debug info of the shared library in ${_runtime_pkg}, for debuggers and
profilers; they find it by the library's build id.")
if(NOT CMAKE_READELF)
  message(FATAL_ERROR "readelf (binutils) is needed to name the debug info file")
endif()
install(CODE "
  execute_process(COMMAND \"${CMAKE_READELF}\" -n \"${STAGE}/${REALNAME}\"
                  OUTPUT_VARIABLE _notes RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0 OR NOT _notes MATCHES \"Build ID: ([0-9a-f][0-9a-f])([0-9a-f]+)\")
    message(FATAL_ERROR \"no build id in ${STAGE}/${REALNAME}\")
  endif()
  file(INSTALL \"${STAGE}/libasset_cache.debug\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/debug/.build-id/\${CMAKE_MATCH_1}\"
       RENAME \"\${CMAKE_MATCH_2}.debug\")
" COMPONENT dbgsym EXCLUDE_FROM_ALL)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libasset-cache-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_runtime_pkg} (= ${_deb_version})")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "multi-process-safe cache of JSON assets - development files
asset-cache keeps JSON assets keyed by id in <dir>/<name>.json, shared safely
by processes through <name>.lock, with the files, lock and expiry rules of the
AssetCache of the aiXplain Python SDK. This package holds the C header, the
C++17 wrapper, the static library, and the pkg-config and CMake files.")

# What Debian policy asks of every package (lintian checks it): a copyright
# file and a changelog in /usr/share/doc/<package>/, and ldconfig run through
# a trigger rather than maintainer scripts. The documents are only installed
# for packaging (EXCLUDE_FROM_ALL: CPack installs each component by name),
# not by scripts/install.sh.
string(TIMESTAMP DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(DEB_VERSION ${_deb_version})
configure_file(${CMAKE_CURRENT_LIST_DIR}/debian/changelog.in
               ${CMAKE_CURRENT_BINARY_DIR}/debian/changelog.Debian @ONLY)
execute_process(
  COMMAND gzip -9nf ${CMAKE_CURRENT_BINARY_DIR}/debian/changelog.Debian
  RESULT_VARIABLE _gzip_result)
if(NOT _gzip_result EQUAL 0)
  message(FATAL_ERROR "gzip failed on the Debian changelog")
endif()
foreach(_component runtime dev dbgsym)
  string(TOUPPER ${_component} _upper)
  install(FILES
      ${CMAKE_CURRENT_LIST_DIR}/debian/copyright
      ${CMAKE_CURRENT_BINARY_DIR}/debian/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_${_upper}_PACKAGE_NAME}
    COMPONENT ${_component}
    EXCLUDE_FROM_ALL)
  set(_pkg ${CPACK_DEBIAN_${_upper}_PACKAGE_NAME})
  set(_overrides "# Not uploaded to Debian: there is no ITP bug to close.\n${_pkg}: initial-upload-closes-no-bugs\n")
  if(_component STREQUAL "runtime")
    string(APPEND _overrides
      "# CPack writes postinst and postrm calling ldconfig unless the package\n"
      "# brings its own; ours are empty, ldconfig runs through the trigger.\n"
      "${_pkg}: maintainer-script-empty [postinst]\n"
      "${_pkg}: maintainer-script-empty [postrm]\n")
  endif()
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/debian/${_pkg}.overrides "${_overrides}")
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/debian/${_pkg}.overrides
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
    RENAME ${_pkg}
    COMPONENT ${_component}
    EXCLUDE_FROM_ALL)
endforeach()
# CPack would write postinst and postrm calling ldconfig; ours do nothing,
# and the trigger runs ldconfig once per dpkg run.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/triggers
    ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
    ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
