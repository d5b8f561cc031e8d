# Install rules: `cmake --install BUILD [--prefix /usr]`, and the Debian package (debian/rules
# runs the same rules into debian/tmp). docs/packaging.md lists what goes where.
#
# Choose the prefix when configuring: cmake -S . -B BUILD -DCMAKE_INSTALL_PREFIX=/usr, then
# cmake --install BUILD. With the prefix /usr the configuration goes to /etc (GNUInstallDirs'
# CMAKE_INSTALL_FULL_SYSCONFDIR), the Lua plugin to the multiarch libdir; with any other prefix
# everything stays under it (/usr/local/etc/regrelay, ...). Relative destinations also follow a
# `cmake --install --prefix DIR` given at install time.
include(GNUInstallDirs)

if(CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL "/etc")
  set(_rr_sysconfdir /etc)
else()
  set(_rr_sysconfdir ${CMAKE_INSTALL_SYSCONFDIR})
endif()
set(REGRELAY_SYSTEMD_UNITDIR "lib/systemd/system" CACHE PATH
    "Where the systemd units go (relative: under the prefix; Debian 12's package: /lib/systemd/system)")
set(REGRELAY_SYSUSERSDIR "lib/sysusers.d" CACHE PATH
    "Where the sysusers.d file creating the regrelay user goes (relative: under the prefix)")
# Debian's Wireshark 4.0 loads global Lua plugins from ${libdir}/wireshark/plugins
# (`tshark -G folders`: "Global Lua Plugins").
# -DREGRELAY_WIRESHARK_LUADIR=DIR puts it elsewhere (relative: under the prefix).
if(NOT DEFINED REGRELAY_WIRESHARK_LUADIR)
  set(REGRELAY_WIRESHARK_LUADIR "${CMAKE_INSTALL_LIBDIR}/wireshark/plugins")
endif()

set(_rr_deploy ${CMAKE_SOURCE_DIR}/deploy)

# The binary.
install(TARGETS regrelay RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# Commented example configurations (Debian: conffiles). regrelay-relay@NAME.service reads
# /etc/regrelay/relay-NAME.conf, regrelay-snoop@NAME.service /etc/regrelay/snoop-NAME.conf,
# regrelay-registrar@NAME.service /etc/regrelay/registrar-NAME.conf.
install(FILES ${_rr_deploy}/examples/relay-example.conf ${_rr_deploy}/examples/snoop-example.conf
              ${_rr_deploy}/examples/registrar-example.conf
        DESTINATION ${_rr_sysconfdir}/regrelay)

# Log rotation of /var/log/regrelay/*.pcap and *.json (the daemons reopen on SIGHUP).
install(FILES ${_rr_deploy}/logrotate/regrelay DESTINATION ${_rr_sysconfdir}/logrotate.d)

# The regrelay system user (systemd-sysusers; the Debian postinst falls back to adduser).
install(FILES ${_rr_deploy}/sysusers/regrelay.conf DESTINATION ${REGRELAY_SYSUSERSDIR})

# The nftables rules of `regrelay snoop --install-filters`, for reading and for use by hand.
install(FILES ${_rr_deploy}/snoop-filters.nft DESTINATION ${CMAKE_INSTALL_DATADIR}/regrelay)

# systemd units (deploy/systemd/): regrelay-relay@.service, regrelay-snoop@.service,
# regrelay-registrar@.service.
file(GLOB _rr_units CONFIGURE_DEPENDS ${_rr_deploy}/systemd/*.service)
if(_rr_units)
  install(FILES ${_rr_units} DESTINATION ${REGRELAY_SYSTEMD_UNITDIR})
endif()

# bash completion (deploy/bash-completion/regrelay).
if(EXISTS ${_rr_deploy}/bash-completion/regrelay)
  install(FILES ${_rr_deploy}/bash-completion/regrelay
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()

# The Wireshark/tshark Lua dissector for message types 36/37 and option 148 (deploy/wireshark/).
file(GLOB _rr_lua CONFIGURE_DEPENDS ${_rr_deploy}/wireshark/*.lua)
if(_rr_lua)
  install(FILES ${_rr_lua} DESTINATION ${REGRELAY_WIRESHARK_LUADIR})
endif()

# Man pages: cmake/man.cmake builds docs/man/*.scd with scdoc and installs them to man/manSECTION.
