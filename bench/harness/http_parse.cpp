#include "bench/harness/http_parse.hpp"

#include <cctype>
#include <charconv>

namespace bench {

namespace {

constexpr std::size_t max_head = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

} // namespace

void response_parser::reset() {
  phase_ = phase::head;
  line_.clear();
  status_ = 0;
  keep_alive_ = true;
  remaining_ = 0;
  error_.clear();
}

bool response_parser::parse_head(std::string_view head) {
  auto eol = head.find("\r\n");
  auto status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    error_ = "malformed status line";
    return false;
  }
  bool http10 = status_line[7] == '0';
  int code = 0;
  auto digits = status_line.substr(9, 3);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + 3, code);
  if (ec != std::errc{} || p != digits.data() + 3 || code < 100 || code > 599) {
    error_ = "malformed status code";
    return false;
  }
  status_ = code;
  keep_alive_ = !http10;
  bool chunked = false;
  bool has_length = false;
  std::size_t length = 0;
  auto rest = head.substr(eol + 2);
  while (!rest.empty()) {
    auto end = rest.find("\r\n");
    auto line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
    if (line.empty())
      break;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      error_ = "malformed header line";
      return false;
    }
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (e != std::errc{} || q != value.data() + value.size()) {
        error_ = "malformed Content-Length";
        return false;
      }
      has_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = value.find("chunked") != std::string_view::npos;
    } else if (iequals(name, "connection")) {
      if (iequals(value, "close"))
        keep_alive_ = false;
      else if (iequals(value, "keep-alive"))
        keep_alive_ = true;
    }
  }
  if (code < 200 || code == 204 || code == 304) {
    phase_ = phase::done;
  } else if (chunked) {
    phase_ = phase::chunk_size;
  } else if (has_length) {
    remaining_ = length;
    phase_ = length == 0 ? phase::done : phase::body_length;
  } else {
    error_ = "a response without Content-Length or chunked encoding";
    return false;
  }
  return true;
}

response_parser::state response_parser::feed(std::string_view data, std::size_t& consumed) {
  std::size_t i = 0;
  while (phase_ != phase::done) {
    switch (phase_) {
      case phase::head: {
        auto before = line_.size();
        line_.append(data.substr(i));
        auto pos = line_.find("\r\n\r\n");
        if (pos == std::string::npos) {
          if (line_.size() > max_head) {
            error_ = "response head over 64 KiB";
            return state::error;
          }
          consumed = data.size();
          return state::incomplete;
        }
        i += pos + 4 - before;
        auto head = line_.substr(0, pos + 4);
        line_.clear();
        if (!parse_head(head))
          return state::error;
        break;
      }
      case phase::body_length:
      case phase::chunk_data: {
        auto take = std::min(remaining_, data.size() - i);
        i += take;
        remaining_ -= take;
        if (remaining_ > 0) {
          consumed = data.size();
          return state::incomplete;
        }
        if (phase_ == phase::body_length) {
          phase_ = phase::done;
        } else {
          phase_ = phase::chunk_crlf;
          remaining_ = 2;
        }
        break;
      }
      case phase::chunk_crlf: {
        while (remaining_ > 0 && i < data.size()) {
          char want = remaining_ == 2 ? '\r' : '\n';
          if (data[i] != want) {
            error_ = "chunk not followed by CRLF";
            return state::error;
          }
          ++i;
          --remaining_;
        }
        if (remaining_ > 0) {
          consumed = data.size();
          return state::incomplete;
        }
        phase_ = phase::chunk_size;
        break;
      }
      case phase::chunk_size: {
        while (i < data.size() && line_.find("\r\n") == std::string::npos)
          line_ += data[i++];
        auto end = line_.find("\r\n");
        if (end == std::string::npos) {
          if (line_.size() > 1024) {
            error_ = "chunk-size line too long";
            return state::error;
          }
          consumed = data.size();
          return state::incomplete;
        }
        auto hex = std::string_view{line_}.substr(0, std::min(end, line_.find(';')));
        std::size_t size = 0;
        auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
        if (ec != std::errc{} || hex.empty()) {
          error_ = "malformed chunk size";
          return state::error;
        }
        line_.clear();
        if (size == 0) {
          phase_ = phase::trailer;
        } else {
          remaining_ = size;
          phase_ = phase::chunk_data;
        }
        break;
      }
      case phase::trailer: {
        while (i < data.size()) {
          line_ += data[i++];
          if (line_ == "\r\n" || (line_.size() >= 4 && line_.compare(line_.size() - 4, 4, "\r\n\r\n") == 0)) {
            line_.clear();
            phase_ = phase::done;
            break;
          }
        }
        if (phase_ != phase::done) {
          consumed = data.size();
          return state::incomplete;
        }
        break;
      }
      case phase::done:
        break;
    }
  }
  consumed = i;
  return state::complete;
}

} // namespace bench
