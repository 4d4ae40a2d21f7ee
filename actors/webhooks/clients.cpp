// Client settings and webhook bodies: the pure part of the webhooks actor.
#include <algorithm>

#include "actors/jobs/model.hpp"
#include "actors/webhooks/webhooks_actor.hpp"
#include "connectors/webhook.hpp"

namespace echopilot::webhooks {

using nlohmann::json;

std::string apply_client_body(const json& body, json& client, bool& rotate) {
  if (!body.is_object())
    return "the body must be a JSON object";
  static const char* known[] = {"webhook_url", "max_jobs_per_day", "daily_spend_cap_usd", "rotate_secret"};
  for (auto& item : body.items())
    if (std::find(std::begin(known), std::end(known), item.key()) == std::end(known))
      return "unknown field '" + item.key().substr(0, 64)
             + "' (known: webhook_url, max_jobs_per_day, daily_spend_cap_usd, rotate_secret)";
  rotate = false;
  if (auto r = body.find("rotate_secret"); r != body.end()) {
    if (!r->is_boolean())
      return "the field 'rotate_secret' must be true or false";
    rotate = r->get<bool>();
  }
  if (auto u = body.find("webhook_url"); u != body.end()) {
    if (u->is_null()) {
      client["webhook_url"] = nullptr;
    } else {
      if (!u->is_string())
        return "the field 'webhook_url' must be a string or null";
      auto problem = connectors::check_webhook_url(u->get<std::string>());
      if (!problem.empty())
        return "the field 'webhook_url' " + problem;
      client["webhook_url"] = *u;
    }
  }
  if (auto m = body.find("max_jobs_per_day"); m != body.end()) {
    if (m->is_null()) {
      client["max_jobs_per_day"] = nullptr;
    } else {
      if (!m->is_number_integer() || m->get<std::int64_t>() < 1 || m->get<std::int64_t>() > 1'000'000)
        return "the field 'max_jobs_per_day' must be a whole number from 1 to 1000000, or null";
      client["max_jobs_per_day"] = m->get<std::int64_t>();
    }
  }
  if (auto c = body.find("daily_spend_cap_usd"); c != body.end()) {
    if (c->is_null()) {
      client["daily_spend_cap_micros"] = nullptr;
    } else {
      auto micros = jobs::parse_usd(*c);
      if (!micros)
        return "the field 'daily_spend_cap_usd' must be an amount in USD from 0 to 1000000 with at most six "
               "decimals, or null";
      client["daily_spend_cap_micros"] = *micros;
    }
  }
  return {};
}

json client_view(const json& client) {
  auto cap = client.value("daily_spend_cap_micros", json());
  return {{"email", client.value("email", "")},
          {"webhook_url", client.value("webhook_url", json())},
          {"max_jobs_per_day", client.value("max_jobs_per_day", json())},
          {"daily_spend_cap_usd", cap.is_number_integer() ? jobs::usd(cap.get<std::int64_t>()) : json()},
          {"created", client.value("created", "")},
          {"updated", client.value("updated", "")},
          {"secret_set", client.contains("secret")}};
}

json webhook_body(const json& job, std::int64_t now_ms) {
  auto status = job.value("status", "");
  json slim = json::object();
  for (auto k : {"id", "status", "client", "email", "task_type", "qa_score", "price", "payment_status",
                 "result_summary", "correlation_id"})
    slim[k] = job.contains(k) ? job[k] : json();
  if (slim["price"].is_null() && job.contains("price_usd"))
    slim["price"] = job["price_usd"]; // the job record names it price_usd
  if (slim["result_summary"].is_null() && job.contains("result") && job["result"].is_string()) {
    // A job record without the summary field: its first 2,000 bytes, cut at
    // a UTF-8 boundary.
    auto text = job["result"].get<std::string>();
    if (text.size() > 2000) {
      std::size_t n = 2000;
      while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
        --n;
      text.resize(n);
    }
    slim["result_summary"] = std::move(text);
  }
  return {{"type", "job." + status}, {"job", std::move(slim)}, {"created", now_ms / 1000}};
}

std::chrono::milliseconds backoff(std::uint32_t attempt, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max) {
  auto n = std::max<std::uint32_t>(1, attempt);
  return std::min<std::chrono::milliseconds>(max, base * (1LL << std::min<std::uint32_t>(n - 1, 20)));
}

} // namespace echopilot::webhooks
