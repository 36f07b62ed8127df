# Run by `cmake --install` (config/CMakeLists.txt): writes the server's configuration and the
# systemd unit for the prefix being installed to. CMAKE_INSTALL_PREFIX is the install-time prefix
# here; DESTDIR is honoured by file(INSTALL).
set(prefix "${CMAKE_INSTALL_PREFIX}")
# As GNUInstallDirs does for these two prefixes: /usr keeps its configuration in /etc and its
# state in /var; any other prefix keeps both inside itself.
if(prefix STREQUAL "/usr")
  set(etc "/etc")
  set(var "/var")
elseif(prefix STREQUAL "/usr/local")
  set(etc "/etc")
  set(var "/var")
else()
  set(etc "${prefix}/etc")
  set(var "${prefix}/var")
endif()
set(dest "$ENV{DESTDIR}")

# The configuration: the development file with the server's paths.
file(READ "${CP_SOURCE_DIR}/config/carepath.yaml" text)
foreach(pair
    "db: var/carepath.db|db: ${var}/lib/carepath/carepath.db"
    "# master_key: /etc/carepath/master.key|master_key: ${etc}/carepath/keys/master.key"
    "workflows: workflows|workflows: ${etc}/carepath/workflows"
    "plugins: [build/plugins]|plugins: [${prefix}/${CP_LIBDIR}/carepath/plugins]"
    # nginx on the same machine (docs/operations.md) forwards the client's address.
    "trusted_proxies: []|trusted_proxies: [127.0.0.1, \"::1\"]")
  string(REPLACE "|" ";" parts "${pair}")
  list(GET parts 0 from)
  list(GET parts 1 to)
  string(FIND "${text}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "config/carepath.yaml no longer has the line '${from}'; "
                        "update config/install_config.cmake")
  endif()
  string(REPLACE "${from}" "${to}" text "${text}")
endforeach()
string(REPLACE "# carepath engine configuration."
       "# carepath engine configuration, as installed for ${prefix}." text "${text}")
file(WRITE "${CP_WORK_DIR}/carepath.yaml" "${text}")
if(EXISTS "${dest}${etc}/carepath/carepath.yaml")
  message(STATUS "Keeping ${dest}${etc}/carepath/carepath.yaml; the new one is carepath.yaml.new")
  file(RENAME "${CP_WORK_DIR}/carepath.yaml" "${CP_WORK_DIR}/carepath.yaml.new")
  file(INSTALL DESTINATION "${etc}/carepath" TYPE FILE FILES "${CP_WORK_DIR}/carepath.yaml.new")
else()
  file(INSTALL DESTINATION "${etc}/carepath" TYPE FILE FILES "${CP_WORK_DIR}/carepath.yaml")
endif()

# The workflows the server reads: the samples, the first time only.
file(GLOB existing "${dest}${etc}/carepath/workflows/*.yaml")
if(existing)
  message(STATUS "Keeping the workflows in ${dest}${etc}/carepath/workflows")
else()
  file(GLOB samples "${CP_SOURCE_DIR}/workflows/*.yaml")
  file(INSTALL DESTINATION "${etc}/carepath/workflows" TYPE FILE FILES ${samples})
endif()

# The systemd unit, pointing at this prefix's binary and /etc's configuration.
file(READ "${CP_SOURCE_DIR}/config/carepath.service" unit)
string(REPLACE "/usr/bin/carepath" "${prefix}/${CP_BINDIR}/carepath" unit "${unit}")
string(REPLACE "/etc/carepath/" "${etc}/carepath/" unit "${unit}")
string(REPLACE "file:/usr/share/doc/carepath/" "file:${prefix}/${CP_DOCDIR}/" unit "${unit}")
if(NOT var STREQUAL "/var")
  # systemd's StateDirectory is always under /var/lib: name this prefix's state directory instead.
  string(REPLACE "/var/lib/carepath" "${var}/lib/carepath" unit "${unit}")
  string(REPLACE "StateDirectory=carepath" "ReadWritePaths=${var}/lib/carepath" unit "${unit}")
  string(REPLACE "StateDirectoryMode=0700\n" "" unit "${unit}")
endif()
file(WRITE "${CP_WORK_DIR}/carepath.service" "${unit}")
file(INSTALL DESTINATION "${prefix}/lib/systemd/system" TYPE FILE
     FILES "${CP_WORK_DIR}/carepath.service")
