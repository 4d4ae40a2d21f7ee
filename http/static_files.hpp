// Files under one directory (the dashboard's web root), served by relative
// name. Names come from URLs, so they are checked before the file system is
// touched: no "..", no absolute paths, no NUL or backslash, no hidden
// segments; and the resolved file must still lie under the root (symbolic
// links that point out of it are refused).
//
// Files are read at request time (the dashboard's few files are small and
// sit in the page cache: reading one costs microseconds, and an edit shows
// without a restart). The ETag is derived from size and modification time,
// so a browser revalidating gets a 304 without the body.
//
// Thread safety: serve() may be called from any number of threads.
#pragma once

#include <string>
#include <string_view>

#include "http/message.hpp"

namespace echopilot::http {

class static_files {
public:
  /// `root`: the directory the names are relative to (need not exist yet;
  /// a missing or empty root answers 404 for every name).
  explicit static_files(std::string root);

  /// The file `name` (relative, '/'-separated) as a response: 200 with the
  /// body, its content type and an ETag; 304 when `if_none_match` equals
  /// the ETag; 400 `invalid_path` for a name that breaks the rules above;
  /// 404 `not_found` (JSON) for a name with no regular file behind it.
  response serve(std::string_view name, const std::string* if_none_match = nullptr) const;

  const std::string& root() const noexcept {
    return root_;
  }

  /// Why `name` may not be served ("" when it may).
  static std::string check_name(std::string_view name);

  /// The content type for a file name by its extension
  /// ("application/octet-stream" for unknown ones).
  static const char* content_type(std::string_view name) noexcept;

private:
  std::string root_;
};

} // namespace echopilot::http
