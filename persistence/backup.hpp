// Hot backup, verification and restore of a store. Plain functions, usable
// without an actor system (the `echopilot backup|verify|restore` commands).
//
// A backup is a directory holding one data.mdb: a consistent, compacted copy
// of the store as of one read transaction (LMDB's mdb_env_copy2 with
// MDB_CP_COMPACT), taken while the writer keeps committing.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "persistence/environment.hpp"

namespace persistence {

/// Copies the open store `env` into the directory `dest` (created if
/// missing; it must not hold a data.mdb already), then syncs the copy to
/// disk. Thread-safe; any thread; writes go on meanwhile and reads are not
/// held up, but a map resize waits for the copy to end. The copy holds every
/// commit acknowledged before backup() was called. "" or the problem, naming
/// the path.
std::string backup(const environment& env, const std::string& dest);

/// What verify() found.
struct verify_report {
  bool ok = false;
  /// The problem, naming the path (when !ok).
  std::string error;
  /// Records per declared table (absent tables count 0), plus "streams":
  /// the events of all streams. Counted by walking every entry.
  std::map<std::string, std::size_t> records;
  /// Size of the copy's data.mdb.
  std::size_t bytes = 0;
};

/// Opens the copy in `dir` read-only and counts the records of `tables`
/// (their indexes are not needed). Never modifies data.mdb.
verify_report verify(const std::string& dir, const std::vector<table_def>& tables);

/// The report as one JSON object:
/// {"ok":true,"dir":..., "bytes":N,"records":{"table":N,...}} or
/// {"ok":false,"dir":...,"error":"..."}.
std::string report_json(const std::string& dir, const verify_report& report);

/// Puts the copy in `backup_dir` into `data_dir` (created if missing): the
/// copy is checked (it must open as LMDB), written to a temporary file,
/// synced and renamed over data.mdb. A data dir that already holds a store
/// is refused unless `force`; one held by a live node (its LOCK) is refused
/// always. "" or the problem, naming the path.
std::string restore(const std::string& backup_dir, const std::string& data_dir, bool force);

} // namespace persistence
