// An incremental HTTP/1.1 response parser for the load generator: status,
// Content-Length or chunked bodies, keep-alive. Bodies are skipped, not kept.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bench {

class response_parser {
public:
  enum class state { incomplete, complete, error };

  /// Feeds bytes; returns complete once a whole response was seen (the bytes
  /// it used are in `consumed`, the rest belongs to the next response),
  /// error on malformed input (see `error()`).
  state feed(std::string_view data, std::size_t& consumed);

  /// The status and whether the connection stays open, after complete.
  int status() const noexcept {
    return status_;
  }
  bool keep_alive() const noexcept {
    return keep_alive_;
  }
  const std::string& error() const noexcept {
    return error_;
  }

  /// Ready for the next response on the same connection.
  void reset();

private:
  enum class phase { head, body_length, chunk_size, chunk_data, chunk_crlf, trailer, done };

  bool parse_head(std::string_view head);

  phase phase_ = phase::head;
  std::string line_; // partial head or chunk-size line
  int status_ = 0;
  bool keep_alive_ = true;
  std::size_t remaining_ = 0;
  std::string error_;
};

} // namespace bench
