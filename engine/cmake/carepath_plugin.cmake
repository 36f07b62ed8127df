# carepath_add_plugin(<target> <source>...)
#
# Builds a carepath plugin: a MODULE library named <target>.so (no "lib" prefix) that links the
# header-only SDK (carepath::plugin_sdk) and exports exactly one dynamic symbol,
# carepath_plugin_entry_v1. Everything else is hidden twice over: by -fvisibility=hidden, and by
# a linker version script, which also catches symbols that visibility misses (template statics
# and anything pulled in from static libraries the plugin links).
#
# Installed with the carepath CMake package, so third parties get it from
# find_package(carepath); the engine's own build uses the same file for first-party plugins.
# Add further libraries with target_link_libraries(<target> PRIVATE ...) as usual.
include_guard(GLOBAL)

function(carepath_add_plugin target)
  if(NOT ARGN)
    message(FATAL_ERROR "carepath_add_plugin(${target}): no source files given")
  endif()
  if(NOT TARGET carepath::plugin_sdk)
    message(FATAL_ERROR "carepath_add_plugin(${target}): carepath::plugin_sdk is not defined; "
                        "call find_package(carepath) first")
  endif()

  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE carepath::plugin_sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)

  # ELF linkers (GNU ld, gold, lld) take a version script; others rely on visibility alone.
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux" OR CMAKE_SYSTEM_NAME MATCHES "BSD")
    set(exports "${CMAKE_CURRENT_BINARY_DIR}/${target}.exports.map")
    # file(CONFIGURE) rewrites the file only when its content changes, so no needless relinks.
    file(CONFIGURE OUTPUT "${exports}"
         CONTENT "{\n  global: carepath_plugin_entry_v1;\n  local: *;\n};\n")
    target_link_options(${target} PRIVATE "LINKER:--version-script=${exports}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${exports}")
  endif()
endfunction()
