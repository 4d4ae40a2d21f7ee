#include "actors/flags/model.hpp"

#include "base/bucketing.hpp"

namespace echopilot::flags {

using nlohmann::json;

json to_json(const flag& f) {
  json j = {{"value", f.value}, {"description", f.description}};
  if (f.rollout_pct)
    j["rollout_pct"] = *f.rollout_pct;
  if (!f.updated_at.empty()) {
    j["updated_at"] = f.updated_at;
    j["updated_by"] = f.updated_by;
  }
  return j;
}

std::optional<flag> flag_from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "must be an object with a 'value'";
    return std::nullopt;
  }
  auto v = j.find("value");
  if (v == j.end()) {
    error = "has no 'value'";
    return std::nullopt;
  }
  flag f;
  f.value = *v;
  for (auto& [k, x] : j.items()) {
    if (k == "value") {
      continue;
    } else if (k == "description") {
      if (!x.is_string()) {
        error = "'description' must be a string";
        return std::nullopt;
      }
      f.description = x.get<std::string>();
    } else if (k == "rollout_pct") {
      if (!x.is_number_integer() || x.get<int>() < 0 || x.get<int>() > 100) {
        error = "'rollout_pct' must be a whole number from 0 to 100";
        return std::nullopt;
      }
      if (!f.value.is_boolean()) {
        error = "'rollout_pct' needs a boolean value";
        return std::nullopt;
      }
      f.rollout_pct = x.get<int>();
    } else if (k == "updated_at" || k == "updated_by") {
      if (!x.is_string()) {
        error = "'" + k + "' must be a string";
        return std::nullopt;
      }
      (k == "updated_at" ? f.updated_at : f.updated_by) = x.get<std::string>();
    } else {
      error = "has an unknown field '" + k + "'";
      return std::nullopt;
    }
  }
  return f;
}

std::optional<std::string> parse_defaults(const json& doc, std::map<std::string, flag>& out) {
  if (!doc.is_object())
    return std::string{"the flag defaults must be an object of flags"};
  for (auto& [key, j] : doc.items()) {
    if (auto bad = check_key(key))
      return "flag '" + key + "': " + *bad;
    std::string error;
    auto f = flag_from_json(j, error);
    if (!f)
      return "flag '" + key + "' " + error;
    out[key] = std::move(*f);
  }
  return std::nullopt;
}

const char* type_of(const json& v) noexcept {
  switch (v.type()) {
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::string:
      return "string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "float";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    default:
      return "null";
  }
}

bool same_type(const json& current, const json& next) noexcept {
  std::string a = type_of(current);
  std::string b = type_of(next);
  return a == b || (a == "float" && b == "integer");
}

std::optional<std::string> check_key(const std::string& key) {
  if (key.empty() || key.size() > 128)
    return std::string{"a flag key has 1 to 128 characters"};
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return "a flag key may hold letters, digits, '.', '_' and '-' only, not '"
             + std::string(1, c) + "'";
  return std::nullopt;
}

int bucket(const std::string& targeting_key, const std::string& flag_key) {
  // int(MD5("user:flag").hexdigest(), 16) % 100 (base/bucketing.hpp).
  return static_cast<int>(base::digest_mod(base::md5_raw(targeting_key + ":" + flag_key), 100));
}

json evaluate(const std::string& key, const flag* f, const json& context) {
  if (f == nullptr)
    return {{"key", key},
            {"errorCode", "FLAG_NOT_FOUND"},
            {"errorDetails", "no flag '" + key + "'"}};
  json metadata = json::object();
  if (!f->description.empty())
    metadata["description"] = f->description;
  if (!f->rollout_pct)
    return {{"key", key}, {"value", f->value}, {"reason", "STATIC"}, {"variant", "static"},
            {"metadata", metadata}};
  metadata["rollout_pct"] = *f->rollout_pct;
  if (!f->value.get<bool>())
    return {{"key", key}, {"value", false}, {"reason", "DISABLED"}, {"variant", "off"},
            {"metadata", metadata}};
  auto tk = context.find("targetingKey");
  if (tk == context.end())
    return {{"key", key},
            {"errorCode", "TARGETING_KEY_MISSING"},
            {"errorDetails", "flag '" + key + "' is rolled out by targeting key; the context has none"}};
  if (!tk->is_string() || tk->get_ref<const std::string&>().empty())
    return {{"key", key},
            {"errorCode", "INVALID_CONTEXT"},
            {"errorDetails", "targetingKey must be a non-empty string"}};
  bool on = bucket(tk->get<std::string>(), key) < *f->rollout_pct;
  return {{"key", key}, {"value", on}, {"reason", "SPLIT"}, {"variant", on ? "on" : "off"},
          {"metadata", metadata}};
}

} // namespace echopilot::flags
