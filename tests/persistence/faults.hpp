// OS-level fault injection for the persistence tests, like LevelDB's
// fault-injecting Env: this object defines pwrite, write and fdatasync, which
// take the place of libc's for LMDB (a shared library: the executable's
// definitions come first in symbol lookup). Everything is off until a test
// arms it; armed faults apply to files whose path contains `path_part`.
#pragma once

#include <string>

namespace faults {

/// The next pwrite of LMDB's meta page (shorter than a page, within the
/// first two pages) to a matching file fails with EIO: LMDB then marks the
/// environment fatal (MDB_FATAL_ERROR; every later transaction: MDB_PANIC).
void fail_next_meta_write(const std::string& path_part);

/// The next fdatasync of a matching file fails with `err` (EIO, ENOSPC):
/// the commit fails with it, the environment stays usable.
void fail_next_sync(const std::string& path_part, int err);

/// Every write() to a matching file blocks until release_writes().
void hold_writes(const std::string& path_part);
/// Whether a write() is being held now.
bool writes_held();
void release_writes();

/// Disarms everything.
void reset();

} // namespace faults
