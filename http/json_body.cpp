#include "http/json_body.hpp"

#include <cctype>
#include <optional>
#include <vector>

namespace echopilot::http {

using nlohmann::json;

namespace {

/// The DOM parser of nlohmann::json, plus the path to the value being read
/// (for messages) and a depth limit.
class checked_sax {
public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  checked_sax(json& root, std::size_t max_depth) : dom_(root, false), max_depth_(max_depth) {
  }

  bool null() {
    return scalar(dom_.null());
  }
  bool boolean(bool v) {
    return scalar(dom_.boolean(v));
  }
  bool number_integer(number_integer_t v) {
    return scalar(dom_.number_integer(v));
  }
  bool number_unsigned(number_unsigned_t v) {
    return scalar(dom_.number_unsigned(v));
  }
  bool number_float(number_float_t v, const string_t& s) {
    return scalar(dom_.number_float(v, s));
  }
  bool string(string_t& v) {
    return scalar(dom_.string(v));
  }
  bool binary(binary_t& v) {
    return scalar(dom_.binary(v));
  }
  bool start_object(std::size_t n) {
    next();
    if (frames_.size() >= max_depth_)
      return too_deep();
    frames_.push_back({true, {}, 0, false});
    return dom_.start_object(n);
  }
  bool key(string_t& k) {
    frames_.back().key = k;
    frames_.back().in_value = true;
    return dom_.key(k);
  }
  bool end_object() {
    frames_.pop_back();
    done();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    next();
    if (frames_.size() >= max_depth_)
      return too_deep();
    frames_.push_back({false, {}, 0, false});
    return dom_.start_array(n);
  }
  bool end_array() {
    frames_.pop_back();
    done();
    return dom_.end_array();
  }

  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& ex) {
    std::string what = ex.what(); // "[json.exception.parse_error.101] parse error at line 1, ..."
    auto close = what.find("] ");
    if (close != std::string::npos)
      what = what.substr(close + 2);
    if (ex.id == 406) { // out_of_range: "number overflow parsing '1e999'"
      problem_ = {"number_out_of_range",
                  "the number at " + where(true) + " does not fit a double (" + what + ")"};
    } else if (what.find("surrogate") != std::string::npos) {
      problem_ = {"invalid_string", "the string at " + where(true)
                                      + " has a lone UTF-16 surrogate escape (" + what + ")"};
    } else {
      problem_ = {"malformed_json", "malformed JSON: " + what};
    }
    return false;
  }

  const body_problem& problem() const noexcept {
    return problem_;
  }

private:
  struct frame {
    bool object;
    std::string key;   // objects: the last key read
    std::size_t index; // arrays: elements started so far
    bool in_value;     // objects: between a key and the end of its value
  };

  /// A value starts: in an array it takes the next index.
  void next() {
    if (!frames_.empty() && !frames_.back().object)
      ++frames_.back().index;
  }

  /// A value ended: its object waits for the next key.
  void done() {
    if (!frames_.empty() && frames_.back().object)
      frames_.back().in_value = false;
  }

  bool scalar(bool ok) {
    next();
    done();
    return ok;
  }

  bool too_deep() {
    problem_ = {"too_deep", "the value at " + where(false) + " is nested deeper than "
                              + std::to_string(max_depth_) + " levels"};
    return false;
  }

  /// The value being read, as 'value.deep[2]' ("the top level" outside any
  /// object or array). `in_token`: it has not started yet (the error is in
  /// its own token), so an innermost array's element is the next index.
  std::string where(bool in_token) const {
    std::string path;
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      auto& f = frames_[i];
      bool last = i + 1 == frames_.size();
      if (f.object) {
        if (!last || f.in_value)
          path += (path.empty() ? "" : ".") + f.key;
        else
          return "a key of " + (path.empty() ? std::string{"the top level"} : "'" + path.substr(0, 200) + "'");
      } else {
        auto element = last && in_token ? f.index : (f.index == 0 ? 0 : f.index - 1);
        path += '[' + std::to_string(element) + ']';
      }
    }
    return path.empty() ? "the top level" : "'" + path.substr(0, 200) + "'";
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::size_t max_depth_;
  std::vector<frame> frames_;
  body_problem problem_;
};

/// RFC 8259's grammar alone (UTF-8 included; no limit on numbers, nesting or
/// surrogate escapes), without recursion: the first problem, or nothing.
/// Decides whether a body nlohmann::json refuses for something else (a number
/// beyond a double, a lone surrogate, depth) is JSON at all, and catches what
/// nlohmann takes for the end of the text (a NUL byte).
class grammar {
public:
  explicit grammar(std::string_view s) : s_(s) {
  }

  std::optional<std::string> problem() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF")
      i_ = 3; // a byte order mark, as nlohmann::json skips it
    std::vector<char> open;
    for (;;) {
      // A value.
      ws();
      if (i_ == s_.size())
        return fail("the body ends where a value should begin");
      char c = s_[i_];
      if (c == '{' || c == '[') {
        ++i_;
        ws();
        char close = c == '{' ? '}' : ']';
        if (i_ < s_.size() && s_[i_] == close) {
          ++i_;
        } else {
          open.push_back(close);
          if (close == '}' && !member_key())
            return error_;
          continue;
        }
      } else if (c == '"') {
        if (!string())
          return error_;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!number())
          return error_;
      } else if (!literal("true") && !literal("false") && !literal("null")) {
        return fail("not a JSON value");
      }
      // After a value: the end, or what its container allows next.
      for (;;) {
        ws();
        if (open.empty())
          return i_ == s_.size() ? std::nullopt : fail("text after the JSON value");
        if (i_ == s_.size())
          return fail("the body ends inside an object or array");
        if (s_[i_] == open.back()) {
          ++i_;
          open.pop_back();
          continue;
        }
        if (s_[i_] != ',')
          return fail(open.back() == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        ++i_;
        if (open.back() == '}' && !member_key())
          return error_;
        break;
      }
    }
  }

private:
  std::optional<std::string> fail(const char* what) {
    std::size_t line = 1, column = 1;
    for (std::size_t k = 0; k < i_ && k < s_.size(); ++k, ++column)
      if (s_[k] == '\n') {
        ++line;
        column = 0;
      }
    error_ = "malformed JSON: " + std::string{what} + " at line " + std::to_string(line) + ", column "
             + std::to_string(column);
    return error_;
  }

  bool bad(const char* what) {
    fail(what);
    return false;
  }

  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }

  bool member_key() {
    ws();
    if (i_ == s_.size() || s_[i_] != '"')
      return bad("expected a string key");
    if (!string())
      return false;
    ws();
    if (i_ == s_.size() || s_[i_] != ':')
      return bad("expected ':'");
    ++i_;
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word)
      return false;
    i_ += word.size();
    return true;
  }

  bool digits() {
    auto start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
      ++i_;
    return i_ > start;
  }

  bool number() {
    if (s_[i_] == '-')
      ++i_;
    if (i_ < s_.size() && s_[i_] == '0')
      ++i_;
    else if (!digits())
      return bad("a malformed number");
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits())
        return bad("a malformed number");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
        ++i_;
      if (!digits())
        return bad("a malformed number");
    }
    return true;
  }

  bool string() {
    ++i_; // the opening quote
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20)
        return bad("a control character in a string");
      if (c == '\\') {
        ++i_;
        if (i_ == s_.size())
          break;
        char e = s_[i_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k)
            if (i_ + k >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_ + k])))
              return bad("a malformed \\u escape");
          i_ += 5;
          continue;
        }
        if (std::string_view{"\"\\/bfnrt"}.find(e) == std::string_view::npos)
          return bad("an invalid escape in a string");
        ++i_;
        continue;
      }
      if (c < 0x80) {
        ++i_;
        continue;
      }
      if (!utf8())
        return bad("a string that is not valid UTF-8");
    }
    return bad("the body ends inside a string");
  }

  /// One UTF-8 sequence of 2-4 bytes (RFC 3629: no overlong forms, no
  /// surrogates, at most U+10FFFF).
  bool utf8() {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s_[i_ + k]); };
    auto c0 = b(0);
    std::size_t n = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : c0 >= 0xC2 ? 2 : 0;
    if (n == 0 || c0 > 0xF4 || i_ + n > s_.size())
      return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((b(k) & 0xC0) != 0x80)
        return false;
    auto c1 = b(1);
    if ((c0 == 0xE0 && c1 < 0xA0) || (c0 == 0xED && c1 > 0x9F) || (c0 == 0xF0 && c1 < 0x90)
        || (c0 == 0xF4 && c1 > 0x8F))
      return false;
    i_ += n;
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string error_;
};

} // namespace

std::variant<json, body_problem> parse_json_body(std::string_view text, std::size_t max_depth) {
  json root;
  checked_sax sax{root, max_depth};
  try {
    bool parsed = json::sax_parse(text.begin(), text.end(), &sax);
    // nlohmann::json reads a NUL byte as the end of the text.
    if (parsed && text.find('\0') == std::string_view::npos)
      return root;
    if (!parsed && sax.problem().code == "malformed_json")
      return sax.problem();
    // Refused for something else, or NUL: is it JSON at all?
    if (auto bad = grammar{text}.problem())
      return body_problem{"malformed_json", *bad};
    return sax.problem();
  } catch (const std::exception& e) {
    // Only allocation failures and the like can get here.
    return body_problem{"malformed_json", std::string{"malformed JSON: "} + e.what()};
  }
}

} // namespace echopilot::http
