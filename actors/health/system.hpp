// Reads the machine and this process from /proc and the file system (the
// parsing is in proc.hpp). Blocking but cheap (a few small files, one
// directory listing); called by the health and costs actors on their own
// timers and requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "actors/health/sample.hpp"

namespace echopilot::health {

/// The machine and this process now; `data_dir` names the file system whose
/// space is measured.
system_sample read_system(const std::string& data_dir);

/// Bytes that `path` takes on disk (allocated blocks, st_blocks x 512),
/// with everything below it if it is a directory; nothing if it does not
/// exist or cannot be read.
std::optional<std::uint64_t> bytes_on_disk(const std::string& path);

} // namespace echopilot::health
