// Typed records: a table whose records are values of one C++ type, encoded
// as JSON through nlohmann's to_json/from_json (ADL) for that type. A thin
// layer over environment (reads) and op (writes through the writer).
//
// Thread safety: a `table` is an immutable name; all functions are const and
// may be called from any thread (reads follow environment's rules: a failed
// read is an error, never an empty answer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/environment.hpp"
#include "persistence/protocol.hpp"

namespace persistence {

template <class T>
class table {
public:
  /// `name` must be one of the tables the environment was opened with.
  explicit table(std::string name) : name_(std::move(name)) {
  }

  const std::string& name() const noexcept {
    return name_;
  }

  /// The definition to open the environment with.
  table_def def(std::vector<index_def> indexes = {}) const {
    return {name_, std::move(indexes)};
  }

  // -- writes: changes to send to the writer in a write_request --------------

  op put(std::string key, const T& record) const {
    return op::put(name_, std::move(key), nlohmann::json(record));
  }

  /// Fails its request with errc::exists if `key` is present.
  op insert(std::string key, const T& record) const {
    return op::insert(name_, std::move(key), nlohmann::json(record));
  }

  op del(std::string key) const {
    return op::del(name_, std::move(key));
  }

  // -- reads ------------------------------------------------------------------

  /// Decodes one stored record; nothing if it is not valid JSON or does not
  /// decode as T (from_json threw).
  static std::optional<T> decode(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded())
      return std::nullopt;
    try {
      return j.get<T>();
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  /// The record of `key`: nothing if absent or not decodable as T; an error
  /// if the read failed (environment.hpp).
  caf::expected<std::optional<T>> get(const environment& env, std::string_view key) const {
    auto text = env.get(name_, key);
    if (!text)
      return text.error();
    if (!*text)
      return std::optional<T>{};
    return decode(**text);
  }

  /// Records with keys in [from, to) (empty `to`: no bound), key order, at
  /// most `limit`. Records that do not decode as T are skipped.
  caf::expected<std::vector<std::pair<std::string, T>>> scan(const environment& env,
                                                             std::string_view from = {},
                                                             std::string_view to = {},
                                                             std::size_t limit = SIZE_MAX) const {
    std::vector<std::pair<std::string, T>> out;
    if (auto err = env.scan(name_, from, to, limit, collect(out)))
      return err;
    return out;
  }

  /// Records whose entry in `index` equals `value`, in key order.
  caf::expected<std::vector<std::pair<std::string, T>>> find(const environment& env,
                                                             const std::string& index,
                                                             std::string_view value,
                                                             std::size_t limit = SIZE_MAX) const {
    std::vector<std::pair<std::string, T>> out;
    if (!value.empty())
      if (auto err = env.scan_index(name_, index, value, {}, limit, collect(out)))
        return err;
    return out;
  }

  /// Records whose time_index `index` lies in [from_ms, to_ms), oldest first.
  caf::expected<std::vector<std::pair<std::string, T>>> between(const environment& env,
                                                                const std::string& index,
                                                                std::int64_t from_ms,
                                                                std::int64_t to_ms,
                                                                std::size_t limit = SIZE_MAX) const {
    std::vector<std::pair<std::string, T>> out;
    if (auto err = env.scan_time(name_, index, from_ms, to_ms, limit, collect(out)))
      return err;
    return out;
  }

private:
  static auto collect(std::vector<std::pair<std::string, T>>& out) {
    return [&out](std::string_view key, std::string_view text) {
      if (auto rec = decode(text))
        out.emplace_back(std::string{key}, std::move(*rec));
      return true;
    };
  }

  std::string name_;
};

} // namespace persistence
