# Man pages from one source: docs/man/PAGE.SECTION.scd (scdoc(5)) -> BUILD/docs/man/PAGE.SECTION,
# built by default (target `man`) when scdoc is found, and installed to man/manSECTION.
# @PROJECT_VERSION@ in a source becomes the project's version (configure_file, @ONLY).
# tests/man.cmake checks that regrelay(8) documents every option of every command and nothing
# else, and regrelay.conf(5) every configuration key.
include(GNUInstallDirs)
find_program(SCDOC_EXECUTABLE scdoc)
set(REGRELAY_MAN_SOURCES regrelay.8 regrelay.conf.5)
if(SCDOC_EXECUTABLE)
  set(_rr_man_built)
  foreach(_rr_page IN LISTS REGRELAY_MAN_SOURCES)
    set(_rr_in ${CMAKE_BINARY_DIR}/docs/man/${_rr_page}.scd)
    set(_rr_out ${CMAKE_BINARY_DIR}/docs/man/${_rr_page})
    configure_file(${CMAKE_SOURCE_DIR}/docs/man/${_rr_page}.scd ${_rr_in} @ONLY)
    add_custom_command(OUTPUT ${_rr_out}
                       COMMAND sh -c "exec \"$0\" < \"$1\" > \"$2\" || { rm -f \"$2\"; exit 1; }"
                               ${SCDOC_EXECUTABLE} ${_rr_in} ${_rr_out}
                       DEPENDS ${_rr_in}
                       COMMENT "scdoc ${_rr_page}"
                       VERBATIM)
    string(REGEX MATCH "[0-9]$" _rr_section "${_rr_page}")
    install(FILES ${_rr_out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_rr_section})
    list(APPEND _rr_man_built ${_rr_out})
  endforeach()
  add_custom_target(man ALL DEPENDS ${_rr_man_built})
else()
  message(WARNING "scdoc not found: the man pages (docs/man/*.scd) are not built or installed "
                  "(Debian: apt-get install scdoc)")
endif()
