#include "actors/regions/replication.hpp"

#include <algorithm>
#include <cstdio>

namespace echopilot::regions {

using nlohmann::json;

json to_json(const event& e) {
  return {{"o", e.origin}, {"s", e.seq}, {"t", e.table}, {"k", e.key}, {"v", e.version}, {"d", e.data}};
}

std::optional<event> event_from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "an event must be an object";
    return std::nullopt;
  }
  auto text = [&](const char* name, std::string& out) {
    auto i = j.find(name);
    if (i == j.end() || !i->is_string() || i->get_ref<const std::string&>().empty()) {
      error = std::string{"an event's \""} + name + "\" must be a non-empty string";
      return false;
    }
    out = i->get<std::string>();
    return true;
  };
  event e;
  if (!text("o", e.origin) || !text("t", e.table) || !text("k", e.key) || !text("v", e.version))
    return std::nullopt;
  auto s = j.find("s");
  if (s == j.end() || !s->is_number_integer() || s->get<std::int64_t>() <= 0) {
    error = "an event's \"s\" must be a sequence number from 1";
    return std::nullopt;
  }
  e.seq = s->get<std::uint64_t>();
  if (auto d = j.find("d"); d != j.end())
    e.data = *d;
  return e;
}

json to_json(const vector_clock& v) {
  json out = json::object();
  for (auto& [origin, seq] : v)
    out[origin] = seq;
  return out;
}

std::optional<vector_clock> vector_from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "a vector must be an object of origin: sequence";
    return std::nullopt;
  }
  vector_clock v;
  for (auto& [origin, seq] : j.items()) {
    if (!seq.is_number_integer() || seq.get<std::int64_t>() < 0) {
      error = "the vector's entry for '" + origin + "' must be a non-negative integer";
      return std::nullopt;
    }
    v[origin] = seq.get<std::uint64_t>();
  }
  return v;
}

plan plan_batch(const vector_clock& applied, std::vector<event> batch) {
  std::stable_sort(batch.begin(), batch.end(), [](const event& a, const event& b) {
    return a.origin != b.origin ? a.origin < b.origin : a.seq < b.seq;
  });
  plan p;
  p.next = applied;
  for (auto& e : batch) {
    auto& at = p.next[e.origin]; // absent: nothing applied yet (0)
    if (e.seq <= at)
      ++p.duplicates;
    else if (e.seq == at + 1) {
      at = e.seq;
      p.apply.push_back(std::move(e));
    } else
      ++p.gaps;
  }
  // Origins seen only in gaps stay at what was applied (0 is not written).
  for (auto i = p.next.begin(); i != p.next.end();)
    i = i->second == 0 && applied.count(i->first) == 0 ? p.next.erase(i) : std::next(i);
  return p;
}

target target_of(const event& e, const std::string& rows_table) {
  if (e.table == "flags")
    return {e.table, e.key};
  return {rows_table, e.table + "/" + e.key};
}

std::string event_key(const std::string& origin, std::uint64_t seq) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(seq));
  return origin + "/" + digits;
}

std::vector<range> missing(const vector_clock& theirs, const vector_clock& mine) {
  std::vector<range> out;
  for (auto& [origin, upto] : mine) {
    auto i = theirs.find(origin);
    auto after = i == theirs.end() ? 0 : i->second;
    if (upto > after)
      out.push_back({origin, after, upto});
  }
  return out;
}

} // namespace echopilot::regions
