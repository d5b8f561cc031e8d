# The Debian package test (tests/package_test.py): builds the package with `make deb` unless dist/
# has one newer than the sources, installs it with dpkg -i, runs the installed binary (--version,
# then `regrelay relay` with the installed example configuration in network namespaces), checks
# owners, modes and conffiles, and purges it (nothing left). It changes the machine's package
# database, so it is registered only when asked for: `make test-package` configures
# build-package/ with -DREGRELAY_PACKAGE_TEST=ON (and `make test` calls it once, not per build).
# Without root it exits 77: skipped.
option(REGRELAY_PACKAGE_TEST "Register the Debian package test (dpkg -i and --purge on this machine)" OFF)
if(REGRELAY_PACKAGE_TEST)
  add_test(NAME package
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/package_test.py ${CMAKE_SOURCE_DIR})
  # Building the package compiles the whole project once (minutes on two shared cores).
  set_tests_properties(package PROPERTIES TIMEOUT 2400 SKIP_RETURN_CODE 77 LABELS package RUN_SERIAL TRUE)
endif()

# `cmake --install` without the package, into a temporary DESTDIR (no root): every build checks
# that its install rules (cmake/install.cmake, cmake/man.cmake) put each file in place.
add_test(NAME cmake_install
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/package_test.py --cmake-install
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(cmake_install PROPERTIES TIMEOUT 60 LABELS cli)
