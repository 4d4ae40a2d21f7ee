// -- brain (issue 18): what the model is asked and how its answer is
// checked (S28), pure. The model gets the figures as JSON and must answer
// one JSON object of a fixed schema; anything else is refused with a reason
// and the rules' answer stands ("fallback" says why).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::brain {

/// (role, content) pairs of a chat request.
using messages = std::vector<std::pair<std::string, std::string>>;

/// The ops brain's request: the schema in the system prompt, the figures
/// and the rules' findings as the user's JSON.
messages decision_prompt(const nlohmann::json& figures, const nlohmann::json& rules);

/// Checks a model's answer to decision_prompt. The answer must be a JSON
/// object (optionally in a ```json fence) {"summary": string 1..2000,
/// "recommendations": [<= 20 of {"rule": string 1..64, "severity":
/// "critical"|"warning"|"info", "title": string 1..300, "action": string
/// 1..2000, "evidence": [1..10 of {"figure": a path that exists in
/// `figures`}]}]}. On success `out` holds {"summary", "recommendations"}
/// with each evidence's "value" and "source" read from `figures` (never
/// the model's); otherwise the reason (one sentence) is returned.
std::string check_decision(const std::string& content, const nlohmann::json& figures, nlohmann::json& out);

/// The brief's request: the day's figures; the model writes the words.
messages brief_prompt(const nlohmann::json& figures, const std::string& date);

/// Checks an answer to brief_prompt: {"headline": string 1..200, "text":
/// string 1..4000, "highlights": [<= 10 strings 1..300]}. `out` holds it.
std::string check_brief(const std::string& content, nlohmann::json& out);

/// The rules' words for a day's figures (no model).
nlohmann::json brief_by_rules(const nlohmann::json& figures, const std::string& date);

/// The day's figures of a brief from the answers of the sources (null or
/// absent answers are left out, and said in `warnings`):
///   summary  = jobs.queue's metrics summary (GET /api/metrics-summary)
///   finance  = GET /api/finance-metrics, slo = GET /api/slo/status,
///   incidents = the incident history (newest first), tree = the
///   supervision tree's snapshot, costs = GET /api/costs/report.
nlohmann::json day_figures(const std::string& date, const nlohmann::json& summary, const nlohmann::json& finance,
                           const nlohmann::json& slo, const nlohmann::json& incidents, const nlohmann::json& tree,
                           const nlohmann::json& costs, nlohmann::json& warnings);

/// The children of a tree snapshot, flattened ({"id", "state", "restarts"},
/// supervisors and workers, depth first) and the sum of their restarts.
nlohmann::json tree_figures(const nlohmann::json& snapshot);

/// Whether `date` is YYYY-MM-DD of a real calendar day.
bool valid_date(const std::string& date);

} // namespace echopilot::brain
