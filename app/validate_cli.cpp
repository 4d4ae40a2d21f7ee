#include "app/validate_cli.hpp"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "app/cli_support.hpp"
#include "app/node_probe.hpp"
#include "base/crypto.hpp"
#include "base/text.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

/// A route of the document.
struct operation {
  std::string method; // "GET"
  std::string path;   // "/api/jobs/{id}"
  bool key_required = false;
  std::string produces = "application/json";
};

enum class expect : std::uint8_t { success, refused_input, unauthorized, not_found, not_allowed };

/// GETs that are not pure reads: not called with the key.
const std::set<std::string> writing_gets = {
  "/api/customer/signed-url/{email}", // issues a signed portal link
};

/// Routes that need input validate does not have (a signed link, an
/// experiment and user, a data subject's email): called without it, they
/// must refuse with a 4xx and the JSON error (the page /portal: its HTML
/// error page).
const std::set<std::string> input_routes = {"/api/exp/assign",       "/api/growth/confirm",
                                            "/api/portal/jobs",      "/api/portal/jobs/{id}",
                                            "/portal",               "/api/compliance/export-data"};


bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string mime_of(const std::string& content_type) {
  auto m = base::ascii_lower(content_type.substr(0, content_type.find(';')));
  while (!m.empty() && m.back() == ' ')
    m.pop_back();
  return m;
}

/// What is wrong with answer `r` to `path` (declared to produce `produces`)
/// for expectation `e`; empty when nothing is.
std::vector<std::string> problems_of(const probe_result& r, const std::string& path, const std::string& produces,
                                     expect e) {
  std::vector<std::string> bad;
  auto status = std::to_string(r.status);
  switch (e) {
    case expect::success:
      if (r.status < 200 || r.status > 299)
        bad.push_back("status " + status + ", expected 2xx");
      break;
    case expect::refused_input:
      if (r.status < 400 || r.status > 499)
        bad.push_back("status " + status + ", expected a 4xx refusal");
      break;
    case expect::unauthorized:
      if (r.status != 401)
        bad.push_back("status " + status + " without the key, expected 401");
      break;
    case expect::not_found:
      if (r.status != 404)
        bad.push_back("status " + status + ", expected 404");
      break;
    case expect::not_allowed:
      if (r.status != 405)
        bad.push_back("status " + status + ", expected 405");
      else if (r.header("allow").empty())
        bad.push_back("405 without an Allow header");
      break;
  }
  // The security headers of CONTRACT.md, on every answer.
  if (r.header("x-request-id").empty())
    bad.push_back("no X-Request-Id");
  if (r.header("x-content-type-options") != "nosniff")
    bad.push_back("X-Content-Type-Options is not nosniff");
  if (r.header("x-frame-options") != "DENY")
    bad.push_back("X-Frame-Options is not DENY");
  if (r.header("referrer-policy") != "no-referrer")
    bad.push_back("Referrer-Policy is not no-referrer");
  auto query = path.find('?');
  auto bare = path.substr(0, query);
  if ((starts_with(bare, "/api/") || starts_with(bare, "/ofrep/"))
      && base::ascii_lower(r.header("cache-control")).find("no-store") == std::string::npos)
    bad.push_back("Cache-Control is not no-store");
  auto mime = mime_of(r.header("content-type"));
  bool success = e == expect::success;
  auto want = success || (e == expect::refused_input && produces == "text/html") ? produces : "application/json";
  if (want == "application/json") {
    if (mime != "application/json") {
      bad.push_back("content type '" + printable(r.header("content-type")) + "', expected application/json");
      return bad;
    }
    auto doc = json::parse(r.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      bad.push_back("the body is not a JSON object");
    } else if (success && bare == "/api/openapi.json") {
      if (!doc.value("openapi", json{}).is_string() || !doc.value("paths", json{}).is_object())
        bad.push_back("not an OpenAPI document (openapi, paths)");
    } else if (success) {
      if (doc.value("ok", json{}) != true || !doc.contains("data"))
        bad.push_back("not the envelope (ok true and data)");
    } else {
      auto error = doc.value("error", json{});
      if (doc.value("ok", json{}) != false || !error.is_object() || !error.value("code", json{}).is_string()
          || error["code"].get<std::string>().empty() || !error.value("message", json{}).is_string()
          || error["message"].get<std::string>().empty())
        bad.push_back("not the error envelope (ok false, error.code, error.message)");
    }
    return bad;
  }
  if (want == "application/octet-stream") {
    // A static file: its own type.
    if (mime.empty())
      bad.push_back("no content type");
  } else if (mime != want) {
    bad.push_back("content type '" + printable(r.header("content-type")) + "', expected " + want);
  }
  if (success && want == "application/x-ndjson") {
    std::size_t start = 0;
    while (start < r.body.size()) {
      auto end = r.body.find('\n', start);
      if (end == std::string::npos)
        end = r.body.size();
      if (end > start && !json::parse(r.body.substr(start, end - start), nullptr, false).is_object()) {
        bad.push_back("a line that is not a JSON object");
        break;
      }
      start = end + 1;
    }
  }
  if (want == "text/html" && r.header("content-security-policy").find("default-src") == std::string::npos)
    bad.push_back("no Content-Security-Policy with default-src");
  return bad;
}

std::string joined(const std::vector<std::string>& v, const char* sep = "; ") {
  std::string out;
  for (auto& s : v)
    out += (out.empty() ? "" : sep) + s;
  return out;
}

class validator {
public:
  validator(const validate_command& cmd, std::string key) : cmd_(cmd), key_(std::move(key)) {}

  std::vector<validate_row> rows;

  probe_result call(const std::string& method, const std::string& path, bool with_key, const std::string& body = {}) {
    std::vector<std::string> headers = {"Accept: application/json"};
    if (with_key)
      headers.push_back("X-Dash-Key: " + key_);
    return probe(cmd_.url, method, path, headers, body);
  }

  /// Records a call's checks.
  void record(const std::string& method, const std::string& path, const std::string& check, const probe_result& r,
              std::vector<std::string> bad, const std::string& note = {}) {
    if (r.status == 0)
      bad = {printable(r.error)};
    rows.push_back({method, path, check, r.status, bad.empty() ? "pass" : "fail",
                    bad.empty() ? note : printable(joined(bad))});
  }

  void skip(const std::string& method, const std::string& path, const std::string& check, const std::string& why) {
    rows.push_back({method, path, check, 0, "skip", why});
  }

  /// Calls and checks in one.
  probe_result check(const std::string& method, const std::string& path, const std::string& check_name,
                     const std::string& produces, expect e, bool with_key, const std::string& body = {},
                     const std::string& note = {}) {
    auto r = call(method, path, with_key, body);
    record(method, path, check_name, r, problems_of(r, path, produces, e), note);
    return r;
  }

  /// A call with the key: forgives the strike of a keyless call (S22).
  void forgive() {
    call("GET", "/api/flags/get", true);
  }

  /// `path` with each {name} filled, or nothing (with `why`).
  std::optional<std::string> fill(const std::string& path, std::string& why) {
    std::string out;
    std::size_t i = 0;
    while (i < path.size()) {
      auto open = path.find('{', i);
      if (open == std::string::npos) {
        out += path.substr(i);
        break;
      }
      auto close = path.find('}', open);
      out += path.substr(i, open - i);
      auto name = path.substr(open + 1, close - open - 1);
      auto value = value_for(path, name, why);
      if (!value)
        return std::nullopt;
      out += url_encode(*value);
      i = close + 1;
    }
    return out;
  }

  /// The data of a keyed GET (null when it fails: that route's own row says why).
  json data_of(const std::string& path) {
    auto r = call("GET", path, true);
    auto doc = json::parse(r.body, nullptr, false);
    return r.status == 200 && doc.is_object() ? doc.value("data", json{}) : json{};
  }

private:
  std::optional<std::string> value_for(const std::string& path, const std::string& name, std::string& why) {
    if (path == "/api/events/{stream}")
      return std::string{"access"}; // every request is recorded there
    if (name == "file") {
      auto prefix = path.substr(0, path.find('{'));
      auto page = starts_with(prefix, "/portal/") ? "/portal" : "/dashboard";
      auto html = call("GET", page, false).body;
      std::regex ref{std::regex_replace(prefix, std::regex{"[.]"}, "\\.") + "([A-Za-z0-9._-]+)[\"']"};
      std::smatch m;
      if (std::regex_search(html, m, ref))
        return m[1].str();
      why = std::string{"no asset under "} + prefix + " named by " + page;
      return std::nullopt;
    }
    if (starts_with(path, "/api/jobs/{id}")) {
      auto completed = path != "/api/jobs/{id}";
      auto jobs = data_of(completed ? "/api/jobs?status=completed&limit=1" : "/api/jobs?limit=1");
      auto list = jobs.is_object() ? jobs.value("jobs", json::array()) : json::array();
      if (!list.empty() && list[0].value("id", json{}).is_string())
        return list[0]["id"].get<std::string>();
      why = completed ? "no completed job to read" : "no job to read";
      return std::nullopt;
    }
    if (starts_with(path, "/api/clients/")) {
      // Settings exist only for clients given some (404 otherwise), and no
      // route lists them.
      why = "no list of clients with settings to take an email from";
      return std::nullopt;
    }
    if (name == "email") {
      auto jobs = data_of("/api/jobs?limit=1");
      auto list = jobs.is_object() ? jobs.value("jobs", json::array()) : json::array();
      if (!list.empty() && list[0].value("email", json{}).is_string() && !list[0]["email"].get<std::string>().empty())
        return list[0]["email"].get<std::string>();
      why = "no client email known (no job)";
      return std::nullopt;
    }
    why = "no value for {" + name + "}";
    return std::nullopt;
  }

  const validate_command& cmd_;
  std::string key_;
};

/// Flips a ui.* (else ab.*) boolean flag and sets it back.
void undo_flag(validator& v) {
  auto flags = v.data_of("/api/flags/get");
  std::string key;
  for (auto prefix : {"ui.", "ab."}) {
    if (!flags.is_object() || !key.empty())
      break;
    for (auto& [k, value] : flags.items())
      if (starts_with(k, prefix) && value.is_boolean()) {
        key = k;
        break;
      }
  }
  if (key.empty())
    return v.skip("POST", "/api/flags/set", "undo", "no ui.* or ab.* boolean flag to set and set back");
  bool old = flags[key].get<bool>();
  for (bool value : {!old, old}) {
    auto body = json{{"key", key}, {"value", value}, {"who", "validate"}}.dump();
    auto r = v.call("POST", "/api/flags/set", true, body);
    auto bad = problems_of(r, "/api/flags/set", "application/json", expect::success);
    auto doc = json::parse(r.body, nullptr, false);
    if (bad.empty() && !(doc.is_object() && doc.value("data", json::object()).value("new", json{}) == value))
      bad.push_back("the answer does not say " + key + " is now " + (value ? "true" : "false"));
    v.record("POST", "/api/flags/set", "undo", r, bad,
             key + (value == old ? " set back to " : " set to ") + (value ? "true" : "false"));
  }
  auto now = v.data_of("/api/flags/get");
  if (!now.is_object() || now.value(key, json{}) != old)
    v.rows.push_back({"GET", "/api/flags/get", "undo", 200, "fail", key + " is not back to its old value"});
}

/// Pauses a task that was not paused, and resumes it.
void undo_pause(validator& v) {
  auto tasks = v.data_of("/api/scheduler/tasks");
  std::string id;
  if (tasks.is_array())
    for (auto& t : tasks)
      if (t.is_object() && t.value("paused", true) == false && t.value("running", true) == false
          && t.value("available", false) == true && t.value("id", json{}).is_string()) {
        id = t["id"].get<std::string>();
        break;
      }
  if (id.empty()) {
    v.skip("POST", "/api/scheduler/tasks/{id}/pause", "undo", "no task that is neither paused nor running");
    v.skip("POST", "/api/scheduler/tasks/{id}/resume", "undo", "no task that is neither paused nor running");
    return;
  }
  for (auto action : {"pause", "resume"}) {
    auto path = "/api/scheduler/tasks/" + url_encode(id) + "/" + action;
    v.check("POST", path, "undo", "application/json", expect::success, true, "{}",
            id + (std::string{action} == "pause" ? " paused" : " resumed"));
  }
  auto after = v.data_of("/api/scheduler/tasks");
  if (after.is_array())
    for (auto& t : after)
      if (t.is_object() && t.value("id", json{}) == id && t.value("paused", false) != false)
        v.rows.push_back({"GET", "/api/scheduler/tasks", "undo", 200, "fail", id + " is still paused"});
}

bool is_undo_route(const operation& op) {
  return op.method == "POST"
         && (op.path == "/api/flags/set" || op.path == "/api/scheduler/tasks/{id}/pause"
             || op.path == "/api/scheduler/tasks/{id}/resume");
}

std::vector<operation> operations_of(const json& doc) {
  std::vector<operation> ops;
  for (auto& [path, verbs] : doc["paths"].items()) {
    if (!verbs.is_object())
      continue;
    for (auto& [verb, o] : verbs.items()) {
      operation op;
      op.path = path;
      op.method = verb;
      for (auto& c : op.method)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      // A key is required when every alternative of `security` names one
      // (an empty alternative: the route can be called without).
      auto sec = o.value("security", json::array());
      op.key_required = sec.is_array() && !sec.empty();
      if (sec.is_array())
        for (auto& alt : sec)
          if (alt.is_object() && alt.empty())
            op.key_required = false;
      auto content = o.value("responses", json::object()).value("200", json::object()).value("content", json::object());
      if (content.is_object() && !content.empty())
        op.produces = content.begin().key();
      ops.push_back(std::move(op));
    }
  }
  return ops;
}

void print_table(const std::vector<validate_row>& rows, std::FILE* out) {
  std::size_t width = 4;
  for (auto& r : rows)
    width = std::max(width, r.path.size());
  width = std::min<std::size_t>(width, 60);
  std::fprintf(out, "%-6s  %-*s  %-6s  %6s  %-6s  %s\n", "METHOD", static_cast<int>(width), "PATH", "CHECK", "STATUS",
               "RESULT", "REASON");
  for (auto& r : rows)
    std::fprintf(out, "%-6s  %-*s  %-6s  %6s  %-6s  %s\n", r.method.c_str(), static_cast<int>(width),
                 printable(r.path).c_str(), r.check.c_str(), r.status == 0 ? "-" : std::to_string(r.status).c_str(),
                 r.result.c_str(), r.reason.empty() ? "" : r.reason.c_str());
}

} // namespace

std::variant<command, usage_error> parse_validate(const std::vector<std::string>& args) {
  validate_command cmd;
  auto split = split_remote_args(args, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    return usage_error{"validate: takes no argument, not '" + printable(words[0]) + "'"};
  return command{cmd};
}

std::string validate_help_text() {
  return "usage: echopilot validate [--url URL] [--key-file FILE] [--json]\n"
         "\n"
         "Checks a running node against its own OpenAPI document (GET\n"
         "/api/openapi.json). It calls every GET it can fill (a job id from GET\n"
         "/api/jobs, the stream 'access', an asset the page names), and two writes\n"
         "it undoes at once: a ui.* (else ab.*) boolean flag set to the other value\n"
         "and back (recorded in the flags' history, who 'validate'), and a task that\n"
         "was not paused paused and resumed. Routes that need a signed link or\n"
         "other input must refuse a call without it with a 4xx and the JSON error.\n"
         "Each answer must have its status (2xx with the key), the envelope (ok and\n"
         "data, or error.code and error.message; NDJSON and pages: their content\n"
         "type), and X-Request-Id, X-Content-Type-Options: nosniff, X-Frame-Options:\n"
         "DENY, Referrer-Policy: no-referrer, Cache-Control: no-store on /api/*;\n"
         "/dashboard a Content-Security-Policy. Every route that declares security\n"
         "is called once without the key and must answer 401 with the JSON error;\n"
         "each such call is followed by one with the key, which forgives the rate\n"
         "guard's strike, so the validating address is never banned. An unknown\n"
         "route must answer 404 and a wrong method 405, both in JSON.\n"
         "\n"
         "Prints a table (METHOD, PATH, CHECK, STATUS, RESULT, REASON) and a\n"
         "summary line; --json prints {url, passed, failed, skipped, results}.\n"
         "Writes validate cannot undo are listed as skipped.\n"
         "\n"
         "Exit 0 when every check passed; 1 when one failed (stderr names the\n"
         "failing routes on one line) or the key was refused; 2 for a bad command\n"
         "line; 3 when the node cannot be reached.\n";
}

int run_validate_command(const validate_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                         std::FILE* err) {
  auto target = target_of(cmd, env_key, "validate", err);
  if (!target)
    return exit_failed;
  if (target->key.empty()) {
    std::fprintf(err, "echopilot: validate: no key (set DASHBOARD_KEY or give --key-file)\n");
    return exit_failed;
  }
  validator v{cmd, target->key};
  auto doc_answer = v.call("GET", "/api/openapi.json", true);
  if (doc_answer.status == 0) {
    std::fprintf(err, "echopilot: validate: %s\n", printable(doc_answer.error).c_str());
    return exit_unreachable;
  }
  if (doc_answer.status == 401) {
    std::fprintf(err, "echopilot: validate: the node refused the key (401); nothing else was called\n");
    return exit_failed;
  }
  auto doc = json::parse(doc_answer.body, nullptr, false);
  if (doc_answer.status != 200 || !doc.is_object() || !doc.value("paths", json{}).is_object()) {
    std::fprintf(err, "echopilot: validate: GET /api/openapi.json answered %d without an OpenAPI document\n",
                 doc_answer.status);
    return exit_failed;
  }
  for (auto& op : operations_of(doc)) {
    if (op.key_required) {
      // Refused before any handler runs: safe for every route. The keyed
      // call after it forgives the strike.
      std::string why;
      auto path = v.fill(op.path, why);
      if (!path) {
        path = op.path;
        for (auto open = path->find('{'); open != std::string::npos; open = path->find('{'))
          path->replace(open, path->find('}', open) - open + 1, "validate-probe");
      }
      v.check(op.method, *path, "no key", op.produces, expect::unauthorized, false);
      v.forgive();
    }
    if (op.method != "GET") {
      if (!is_undo_route(op))
        v.skip(op.method, op.path, "key", "a write validate cannot undo: not called with the key");
      continue;
    }
    if (writing_gets.count(op.path) != 0) {
      v.skip(op.method, op.path, "key", "a GET that writes: not called with the key");
      continue;
    }
    if (input_routes.count(op.path) != 0) {
      std::string path = op.path;
      if (auto open = path.find('{'); open != std::string::npos)
        path.replace(open, path.find('}', open) - open + 1, "validate-probe");
      v.check(op.method, path, "input", op.produces, expect::refused_input, true, {},
              "refused without its input, as it should");
      continue;
    }
    std::string why;
    auto path = v.fill(op.path, why);
    if (!path) {
      v.skip(op.method, op.path, "key", why);
      continue;
    }
    v.check(op.method, *path, "key", op.produces, expect::success, true);
  }
  undo_flag(v);
  undo_pause(v);
  // An unknown route and a wrong method: JSON 404 and 405.
  v.check("GET", "/api/validate-no-such-route-" + base::random_hex(8), "unknown", "application/json",
          expect::not_found, true);
  v.check("POST", "/healthz", "method", "application/json", expect::not_allowed, true);

  std::size_t passed = 0, failed = 0, skipped = 0;
  std::vector<std::string> failing;
  for (auto& r : v.rows) {
    if (r.result == "pass") {
      ++passed;
    } else if (r.result == "skip") {
      ++skipped;
    } else {
      ++failed;
      failing.push_back(r.method + " " + r.path + " (" + r.check + ": " + r.reason + ")");
    }
  }
  if (cmd.json) {
    json results = json::array();
    for (auto& r : v.rows)
      results.push_back({{"method", r.method},
                         {"path", r.path},
                         {"check", r.check},
                         {"status", r.status == 0 ? json{} : json(r.status)},
                         {"result", r.result},
                         {"reason", r.reason}});
    print_json({{"url", cmd.url}, {"passed", passed}, {"failed", failed}, {"skipped", skipped}, {"results", results}},
               out);
  } else {
    print_table(v.rows, out);
    std::fprintf(out, "validate %s: %zu checks, %zu passed, %zu failed, %zu skipped\n", cmd.url.c_str(),
                 v.rows.size(), passed, failed, skipped);
  }
  if (failed == 0)
    return exit_ok;
  std::fprintf(err, "echopilot: validate: %zu failed: %s\n", failed, printable(joined(failing, ", ")).c_str());
  return exit_failed;
}

} // namespace echopilot::app
