// The file work of backup sets: child processes (tar), SHA-256 of a file,
// atomic writes, syncing. Plain functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace echopilot::backup {

/// Runs `argv` (argv[0] found in PATH) and waits; "" or the problem (its
/// exit status and the end of what it wrote to stderr).
std::string run_program(const std::vector<std::string>& argv);

/// SHA-256 of the file at `path` (64 lower-case hex digits), read in
/// pieces; "" if it cannot be read.
std::string sha256_file(const std::string& path);

/// fsync of a file or a directory; "" or the problem.
std::string sync_path(const std::string& path, bool dir);

/// Writes `content` to `path` atomically: a temporary name beside it,
/// fsync, rename, fsync of the directory. "" or the problem.
std::string write_atomic(const std::string& path, const std::string& content);

/// A new empty directory `<parent>/<stem>-<random>`; "" if it could not be
/// made.
std::string make_temp_dir(const std::string& parent, const std::string& stem);

} // namespace echopilot::backup
