// Hot backup, verification and restore of a store. Plain functions, usable
// without an actor system (the `echopilot backup|verify|restore` commands).
//
// A backup is a directory holding one data.mdb: a consistent, compacted copy
// of the store as of one read transaction, taken while the writer keeps
// committing. The copy is made by a child process (LMDB's `mdb_copy -c`,
// Debian's lmdb-utils), so that its read transaction is not one of this
// process: LMDB forbids a map resize only while this process has live
// transactions, so the writer may grow the map during the copy and readers
// never queue behind it. The copy goes to a temporary file in the
// destination, which is synced, renamed to data.mdb, and the directory
// synced: a crash leaves either no data.mdb or a complete one.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "persistence/environment.hpp"

namespace persistence {

struct backup_options {
  /// The copying program, found in PATH unless it holds a '/': run as
  /// `<copier> -c <data dir>` with the temporary file as its standard
  /// output (mdb_copy's interface).
  std::string copier = "mdb_copy";
};

/// Copies the open store `env` into the directory `dest` (created if
/// missing; it must not hold a data.mdb already). Thread-safe, any thread;
/// neither the writer nor readers wait for it. The copy holds every commit
/// acknowledged before backup() was called. "" or the problem, naming the
/// path.
std::string backup(const environment& env, const std::string& dest, const backup_options& opts = {});

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

/// Opens the copy in `dir` read-only, checks that data.mdb holds every page
/// its meta page counts (a copy cut short is refused before any page is
/// read), walks every entry of every named database and counts the records
/// of `tables` (their indexes are not needed). Never modifies data.mdb.
verify_report verify(const std::string& dir, const std::vector<table_def>& tables);

/// The report as one JSON object:
/// {"ok":true,"dir":..., "bytes":N,"records":{"table":N,...}} or
/// {"ok":false,"dir":...,"error":"..."}.
std::string report_json(const std::string& dir, const verify_report& report);

/// Puts the copy in `backup_dir` into `data_dir` (created if missing): the
/// copy is verified first (as verify() does: every page present, every
/// entry of every database readable), then written to a temporary file in
/// the data dir, synced, checked for its size and renamed over data.mdb,
/// and the directory synced; nothing is replaced if any step fails. A data
/// dir that already holds a store is refused unless `force`; one held by a
/// live node (its LOCK) is refused always. "" or the problem, naming the
/// path.
std::string restore(const std::string& backup_dir, const std::string& data_dir, bool force);

} // namespace persistence
