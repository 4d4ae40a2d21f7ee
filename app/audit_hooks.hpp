// -- audit (issue 17): the audited events that the node itself records
// (not a subsystem's write): a refused key, and a restore found at start.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "supervision/directory.hpp"

namespace echopilot::app {

/// The file a restore leaves in the data dir it restored into (the backup
/// part's side of the contract): {"backup", "sha256", "restored_at"}.
inline constexpr const char* restored_file = "RESTORED.json";

/// For gateway_options::on_key_refused: an audit entry "auth.key_refused"
/// (user: the client's IP; resource: the route; details: key missing or
/// wrong) through the audit actor, in a write of its own; never blocks,
/// never fails a request (if the audit actor is not up: a warning).
std::function<void(const std::string&, const std::string&, bool)>
key_refused_auditor(std::shared_ptr<supervision::directory> dir);

/// For backup_config::made: an audit entry "backup.made" (resource: the
/// set's file; details: its size and SHA-256) through the audit actor, in a
/// write of its own; never fails the backup (no audit actor: a warning).
std::function<void(const nlohmann::json&)> backup_auditor(std::shared_ptr<supervision::directory> dir);

/// At start, once the tree is up: if `data_dir` holds RESTORED.json, appends
/// the audit entry "store.restored" with its fields and removes the file;
/// the file stays (and a warning is printed) if it is malformed or the entry
/// could not be written, so that the next start tries again. "" or the
/// warning.
std::string record_restore(caf::actor_system& sys, const supervision::directory& dir,
                           const std::string& data_dir);

} // namespace echopilot::app
