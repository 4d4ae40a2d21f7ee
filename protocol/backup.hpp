// The backups actor ("backup", under "ops"; S23): backup sets of the store
// and the configuration, their list, their verification, and retention.
//
// A backup set is two files in the backup dir: `echopilot-YYYYMMDDTHHMMSSZ
// .tar.gz` (the compacted LMDB copy as store/data.mdb, the config file the
// node runs with as config/<its name>, the resolved settings without any
// secret as config/settings.json) and `<name>.manifest.json` beside it. The
// manifest is renamed into place last: a set without one is not complete
// and is neither listed nor kept.
//
// Gateway-facing messages (reply: JSON). A refusal the actor decides itself
// is answered as {"refused": {"status", "code", "message"}}; other failures
// are errors of protocol/common.hpp.
//   (run_atom) -> {"file", "size", "sha256", "manifest": {...}, "removed": [names]}
//       makes a set (off the actor's thread; the node keeps serving), then
//       applies retention. One at a time: 409 backup_running.
//   (list_atom) -> {"backups": [{"file", "manifest" fields...}], "count", "dir"}
//       complete sets, newest first.
//   (verify_atom, std::string file) -> {"file", "ok", "sha256_ok", "records", "bytes", "error"?}
//       the SHA-256 against the manifest, then the unpacked copy walked
//       (persistence::verify) in a temporary dir of the backup dir. A name
//       with '/' or "..", or not a set's name: 400; no such set: 404.
#pragma once

#include "protocol/common.hpp"

namespace echopilot::backup {

inline constexpr const char* actor_id = "backup";

using run_atom = caf::atom_constant<caf::atom("bkrun")>;
using list_atom = caf::atom_constant<caf::atom("bklist")>;
using verify_atom = caf::atom_constant<caf::atom("bkverify")>;

} // namespace echopilot::backup
