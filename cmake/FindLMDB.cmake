# Find module for LMDB (Debian liblmdb-dev: header and library, no CMake
# package). Defines the imported target LMDB::lmdb.
find_path(LMDB_INCLUDE_DIR NAMES lmdb.h)
find_library(LMDB_LIBRARY NAMES lmdb)

if(LMDB_INCLUDE_DIR AND EXISTS "${LMDB_INCLUDE_DIR}/lmdb.h")
  file(STRINGS "${LMDB_INCLUDE_DIR}/lmdb.h" _lmdb_v REGEX "^#define MDB_VERSION_(MAJOR|MINOR|PATCH)")
  string(REGEX REPLACE ".*MAJOR[ \t]+([0-9]+).*" "\\1" _maj "${_lmdb_v}")
  string(REGEX REPLACE ".*MINOR[ \t]+([0-9]+).*" "\\1" _min "${_lmdb_v}")
  string(REGEX REPLACE ".*PATCH[ \t]+([0-9]+).*" "\\1" _pat "${_lmdb_v}")
  set(LMDB_VERSION "${_maj}.${_min}.${_pat}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LMDB
  REQUIRED_VARS LMDB_INCLUDE_DIR LMDB_LIBRARY
  VERSION_VAR LMDB_VERSION)

if(LMDB_FOUND AND NOT TARGET LMDB::lmdb)
  add_library(LMDB::lmdb UNKNOWN IMPORTED)
  set_target_properties(LMDB::lmdb PROPERTIES
    IMPORTED_LOCATION "${LMDB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LMDB_INCLUDE_DIR}")
endif()
mark_as_advanced(LMDB_INCLUDE_DIR LMDB_LIBRARY)
