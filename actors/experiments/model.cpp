#include "actors/experiments/model.hpp"

#include <cctype>
#include <cmath>
#include <set>

#include "actors/experiments/stats.hpp"
#include "base/bucketing.hpp"

namespace echopilot::experiments {

using nlohmann::json;

std::vector<std::uint32_t> experiment::shares() const {
  return weights.empty() ? std::vector<std::uint32_t>(variants.size(), 1) : weights;
}

std::optional<std::string> check_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return std::string{"must have 1 to 64 characters"};
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':'))
      return "may hold letters, digits, '.', '_', ':' and '-' only, not '" + std::string(1, c) + "'";
  return std::nullopt;
}

namespace {

std::optional<std::string> parse_one(const std::string& name, const json& j, experiment& e) {
  if (!j.is_object())
    return std::string{"must be an object"};
  e.name = name;
  for (auto& [k, x] : j.items()) {
    if (k == "variants") {
      if (!x.is_array() || x.empty())
        return std::string{"field 'variants': a non-empty array of names"};
      e.variants.clear();
      std::set<std::string> seen;
      for (auto& v : x) {
        if (!v.is_string())
          return std::string{"field 'variants': every variant is a string"};
        auto s = v.get<std::string>();
        if (auto bad = check_name(s))
          return "field 'variants': variant '" + s + "' " + *bad;
        if (!seen.insert(s).second)
          return "field 'variants': variant '" + s + "' appears twice";
        e.variants.push_back(s);
      }
      if (e.variants.size() > 100)
        return std::string{"field 'variants': at most 100 variants"};
    } else if (k == "weights") {
      if (!x.is_array())
        return std::string{"field 'weights': an array of positive whole numbers"};
      e.weights.clear();
      for (auto& w : x) {
        if (!w.is_number_integer() || w.get<std::int64_t>() < 1 || w.get<std::int64_t>() > 1'000'000)
          return std::string{"field 'weights': every weight is a whole number from 1 to 1000000"};
        e.weights.push_back(w.get<std::uint32_t>());
      }
    } else if (k == "salt") {
      if (!x.is_string() || x.get_ref<const std::string&>().empty() || x.get_ref<const std::string&>().size() > 256)
        return std::string{"field 'salt': a string of 1 to 256 characters"};
      e.salt = x.get<std::string>();
    } else if (k == "goal") {
      if (!x.is_string())
        return std::string{"field 'goal': an event name"};
      if (auto bad = check_name(x.get<std::string>()))
        return "field 'goal': " + *bad;
      e.goal = x.get<std::string>();
    } else if (k == "description") {
      if (!x.is_string())
        return std::string{"field 'description': a string"};
      e.description = x.get<std::string>();
    } else {
      return "unknown field '" + k + "'";
    }
  }
  if (!e.weights.empty() && e.weights.size() != e.variants.size())
    return "field 'weights': " + std::to_string(e.weights.size()) + " weights for "
           + std::to_string(e.variants.size()) + " variants";
  return std::nullopt;
}

json number_or_null(const std::optional<double>& x) {
  return x && std::isfinite(*x) ? json(*x) : json(nullptr);
}

} // namespace

std::optional<catalog> parse_catalog(const json& doc, std::string& error) {
  if (!doc.is_object()) {
    error = "must be an object of experiments by name";
    return std::nullopt;
  }
  catalog out;
  for (auto& [name, j] : doc.items()) {
    if (auto bad = check_name(name)) {
      error = "experiment '" + name + "': the name " + *bad;
      return std::nullopt;
    }
    experiment e;
    if (auto bad = parse_one(name, j, e)) {
      error = "experiment '" + name + "': " + *bad;
      return std::nullopt;
    }
    out.emplace(name, std::move(e));
  }
  return out;
}

std::size_t assign(const experiment& e, const std::string& user) {
  auto digest = base::sha256_raw(user + e.salt);
  if (e.weights.empty())
    return base::digest_mod(digest, static_cast<std::uint32_t>(e.variants.size()));
  return base::weighted_pick(digest, e.weights);
}

json results(const experiment& e, const std::vector<counter>& counts, double alpha) {
  json variants = json::array();
  json warnings = json::array();
  std::uint64_t exposures = 0;
  std::uint64_t conversions = 0;
  auto shares = e.shares();
  const counter control = counts.empty() ? counter{} : counts.front();
  std::vector<std::uint64_t> observed;
  for (std::size_t i = 0; i < e.variants.size(); ++i) {
    counter c = i < counts.size() ? counts[i] : counter{};
    exposures += c.exposures;
    conversions += c.conversions;
    observed.push_back(c.exposures);
    json row = {{"variant", e.variants[i]},  {"index", i},          {"weight", shares[i]},
                {"exposures", c.exposures},  {"conversions", c.conversions}, {"events", c.events},
                {"control", i == 0}};
    std::optional<double> rate;
    if (c.exposures > 0)
      rate = static_cast<double>(c.conversions) / static_cast<double>(c.exposures);
    row["rate"] = number_or_null(rate);
    row["difference"] = nullptr;
    row["lift"] = nullptr;
    row["z"] = nullptr;
    row["p_value"] = nullptr;
    row["significant"] = nullptr;
    row["reason"] = nullptr;
    if (i > 0) {
      auto t = two_proportion_z(control.conversions, control.exposures, c.conversions, c.exposures);
      if (rate && control.exposures > 0) {
        double r0 = static_cast<double>(control.conversions) / static_cast<double>(control.exposures);
        row["difference"] = *rate - r0;
        if (r0 > 0)
          row["lift"] = (*rate - r0) / r0;
      }
      row["z"] = number_or_null(t.z);
      row["p_value"] = number_or_null(t.p_value);
      if (t.p_value)
        row["significant"] = *t.p_value < alpha;
      else
        row["reason"] = t.reason;
    }
    variants.push_back(std::move(row));
  }
  auto s = sample_ratio(observed, shares);
  json srm = {{"chi2", number_or_null(s.chi2)}, {"df", s.df}, {"p_value", number_or_null(s.p_value)},
              {"expected", s.expected}, {"threshold", srm_threshold}, {"mismatch", false},
              {"reason", s.reason.empty() ? json(nullptr) : json(s.reason)}};
  if (s.p_value && *s.p_value < srm_threshold) {
    srm["mismatch"] = true;
    warnings.push_back("experiment '" + e.name + "': sample ratio mismatch (chi-square "
                       + std::to_string(*s.chi2) + ", df " + std::to_string(s.df) + ", p "
                       + std::to_string(*s.p_value) + " < " + std::to_string(srm_threshold)
                       + "): the exposures do not follow the configured split; do not trust the comparison");
  }
  return {{"experiment", e.name}, {"description", e.description}, {"goal", e.goal},
          {"control", e.variants.front()}, {"alpha", alpha}, {"exposures", exposures},
          {"conversions", conversions}, {"variants", std::move(variants)}, {"srm", std::move(srm)},
          {"warnings", std::move(warnings)}};
}

json describe(const experiment& e) {
  return {{"experiment", e.name}, {"variants", e.variants}, {"weights", e.shares()},
          {"weighted", !e.weights.empty()}, {"salt", e.salt}, {"goal", e.goal},
          {"description", e.description}, {"control", e.variants.front()}};
}

} // namespace echopilot::experiments
