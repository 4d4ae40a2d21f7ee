// The UTC calendar day of a time, the key of every per-day figure (the jobs'
// day totals, the model's spend of the day, briefs).
#pragma once

#include <cstdint>
#include <string>

namespace base {

/// "YYYY-MM-DD" of the UTC day of `unix_ms`; before 1970: "1970-01-01".
std::string utc_date(std::int64_t unix_ms);

} // namespace base
