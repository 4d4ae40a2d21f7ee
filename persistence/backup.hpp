// Hot backup, verification and restore of a store.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "persistence/environment.hpp"

namespace persistence {

/// A consistent, compacted copy of `env` into the directory `dest` (created
/// if missing; it must hold no data.mdb). Runs in a read transaction, so
/// writes go on meanwhile; the copy holds every commit made before it began.
/// "" or the problem, naming the path.
std::string backup(const environment& env, const std::string& dest);

struct verify_report {
  bool ok = false;
  std::string error;
  std::map<std::string, std::size_t> records; // per table, plus "streams"
  std::size_t bytes = 0;
};

/// Opens the copy in `dir` read-only and counts the records of `tables`.
verify_report verify(const std::string& dir, const std::vector<table_def>& tables);

/// Puts the copy in `backup_dir` into `data_dir` (created if missing). A
/// data dir that already holds a store is refused unless `force`; a data
/// dir in use by a live node is refused always. "" or the problem.
std::string restore(const std::string& backup_dir, const std::string& data_dir, bool force);

} // namespace persistence
