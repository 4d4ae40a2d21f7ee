// Making, listing, verifying and pruning backup sets (protocol/backup.hpp
// describes a set). Plain functions, blocking: the actor runs make_set and
// verify_set on a thread of their own; the CLI runs them offline.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"

namespace echopilot::backup {

/// What the backup actor needs of the store (implemented in app/).
class store_port {
public:
  virtual ~store_port() = default;
  /// A consistent compacted copy of the live store as `dir`/data.mdb (dir
  /// is created); the node keeps committing meanwhile. "" or the problem.
  virtual std::string copy_to(const std::string& dir) = 0;
  /// Walks the copy in `dir` (persistence::verify with the node's tables):
  /// {"ok": true, "bytes", "records": {table: n}} or {"ok": false, "error"}.
  virtual nlohmann::json check(const std::string& dir) = 0;
};

/// Checks a copy in a directory (store_port::check's answer).
using check_fn = std::function<nlohmann::json(const std::string& dir)>;

struct set_options {
  base::clock* clock = nullptr;
  std::string backup_dir;
  /// Recorded in the manifest.
  std::string node;
  std::string region;
  /// The config file the node runs with ("" for none: embedded defaults).
  std::string config_file;
  /// The resolved settings, without any secret (config/settings.json).
  nlohmann::json settings = nlohmann::json::object();
  /// The archiver, run as `<tar> -czf FILE -C DIR store config`.
  std::string tar = "tar";
};

/// The outcome of make_set or verify_set: `error` empty on success.
struct outcome {
  std::string error;
  /// 400, 404, 409, 422 for a refusal of the caller's input or of the
  /// set; 500 for a failure of the machine (disk, tar, the store).
  int status = 500;
  std::string code = "backup_failed";
  nlohmann::json answer;
};

/// Makes a set named after the clock's now in the backup dir (removing
/// first the temporary files a run that did not finish left): the copy
/// (store_port::copy_to) verified, the config and settings beside it, all
/// archived to a temporary name, synced and renamed; then the manifest
/// written atomically. Answers {"file", "size", "sha256", "manifest"}.
outcome make_set(const set_options& o, store_port& store);

/// The complete sets in `backup_dir` (both files present), newest first:
/// each manifest with "file" and "manifest_file"; sets whose manifest
/// cannot be read are listed with "error".
nlohmann::json list_sets(const std::string& backup_dir);

/// Verifies the set of `file` (a name in `backup_dir`, see set_of_file):
/// its archive's SHA-256 and size against the manifest, then the archive
/// unpacked into a temporary dir under `work_dir` and its copy checked.
/// With `keep_unpacked`, the unpacked dir stays and its store dir is
/// answered as "unpacked" (for restore); else it is removed.
outcome verify_set(const std::string& backup_dir, const std::string& file, const check_fn& check,
                   const std::string& work_dir, bool keep_unpacked = false, const std::string& tar = "tar");

/// Removes the sets that retention (sets.hpp, retained) does not keep and
/// archives without a manifest (a run that did not finish). Answers the
/// names removed. Call it only while no run is making a set.
std::vector<std::string> apply_retention(const std::string& backup_dir, std::uint32_t keep_daily,
                                         std::uint32_t keep_weekly);

} // namespace echopilot::backup
