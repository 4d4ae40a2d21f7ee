// -- audit (issue 17): the audit chain end to end on the real binary. A
// RESTORED.json left by a restore becomes the entry store.restored at start
// (the file removed); a flag set, a scheduler pause/resume/run, a guard
// clear and a refused key each leave their entry (the refused key's IP and
// route, never the key); `echopilot audit verify` recomputes the chain and
// passes; then the node is stopped, ONE byte of ONE entry is changed with
// the offline tool (tests/app/audit_tamper.cpp), and both the CLI and the
// node's verify name exactly that entry's seq.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "base/crypto.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "audit-node-test-key-0123456789";
const std::string wrong = "not-the-key-SECRET-4242";

std::vector<std::string> admin() {
  return {"X-Dash-Key: " + key, "Content-Type: application/json"};
}

json entries(const test::node& n) {
  auto r = n.get("/api/audit/entries?limit=1000", admin());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json()["data"]["entries"];
}

json find_type(const json& list, const std::string& type) {
  for (auto& e : list)
    if (e.value("event_type", "") == type)
      return e;
  return nullptr;
}

test::run_result audit_cli(std::vector<std::string> args, const std::string& with_key = key) {
  args.insert(args.begin(), {ECHOPILOT_BINARY, "audit"});
  return test::run_program(args, {{"DASHBOARD_KEY", with_key}});
}

} // namespace

TEST_CASE("audited actions leave entries; verify passes; one byte changed offline is named by seq") {
  test::temp_dir dir;
  std::ofstream{dir.path + "/RESTORED.json"}
    << R"({"backup": "echopilot-2026-01-05.tar.zst", "sha256": "ab12cd", "restored_at": "2026-01-05T10:00:00Z"})";
  std::uint64_t flag_seq = 0;
  {
    test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
    // The restore: audited at start, the file gone.
    CHECK_FALSE(std::filesystem::exists(dir.path + "/RESTORED.json"));
    auto list = entries(n);
    auto restored = find_type(list, "store.restored");
    REQUIRE_MESSAGE(restored.is_object(), list.dump());
    CHECK(restored["details"]["backup"] == "echopilot-2026-01-05.tar.zst");
    CHECK(restored["details"]["sha256"] == "ab12cd");
    CHECK(restored["details"]["restored_at"] == "2026-01-05T10:00:00Z");
    CHECK(restored["prev_hash"] == "genesis");

    // Admin changes, each in its own write with its entry.
    REQUIRE(n.post("/api/flags/set", R"({"key": "ui.new_dashboard", "value": true, "who": "ops-anna"})", admin()).status
            == 200);
    REQUIRE(n.post("/api/scheduler/tasks/audit.weekly/pause", "{}", admin()).status == 200);
    REQUIRE(n.post("/api/scheduler/tasks/audit.weekly/resume", "{}", admin()).status == 200);
    auto run = n.post("/api/scheduler/tasks/audit.weekly/run", "{}", admin());
    REQUIRE_MESSAGE(run.status == 200, run.body);
    REQUIRE(n.post("/api/rate-guard/clear", R"({"ip": "127.0.0.9"})", admin()).status == 200);
    // -- audit (issue 17): silences, a client's settings, held invoices.
    auto silence = n.post("/api/alerts/silences",
                          R"({"matchers": {"rule": "slo_burn"}, "expires_in_s": 600, "created_by": "ops-ben"})", admin());
    REQUIRE_MESSAGE(silence.status == 201, silence.body);
    auto silence_id = silence.json()["data"]["id"].get<std::string>();
    REQUIRE(n.post("/api/alerts/silences/" + silence_id + "/expire", "{}", admin()).status == 200);
    auto client = test::http("PUT", n.base() + "/api/clients/Client@Example.com", admin(),
                             R"({"webhook_url": "https://hooks.example.com/x"})");
    REQUIRE_MESSAGE(client.status == 201, client.body);
    std::vector<std::string> held;
    for (auto email : {"big1@example.com", "big2@example.com"}) { // above $5,000: held for review
      auto h = n.post("/api/payments/create-invoice",
                      std::string{R"({"amount": 6000, "email": ")"} + email + "\"}", admin());
      REQUIRE_MESSAGE(h.status == 200, h.body);
      REQUIRE(h.json()["data"]["status"] == "held");
      held.push_back(h.json()["data"]["invoice"]["id"].get<std::string>());
    }
    auto rejected = n.post("/api/payments/invoices/" + held[0] + "/release", R"({"action": "reject"})", admin());
    REQUIRE_MESSAGE(rejected.status == 200, rejected.body);
    auto approved = n.post("/api/payments/invoices/" + held[1] + "/release", R"({"action": "approve"})", admin());
    REQUIRE_MESSAGE(approved.status == 200, approved.body);
    // A refused key: 401, and an entry with the IP and the route.
    REQUIRE(n.get("/api/flags/get", {"X-Dash-Key: " + wrong}).status == 401);

    // The weekly report, stored and listed.
    REQUIRE(test::eventually([&] {
      auto r = n.get("/api/audit/reports", admin());
      return r.status == 200 && !r.json()["data"]["reports"].empty();
    }));
    auto weekly = n.get("/api/audit/reports", admin()).json()["data"]["reports"][0];
    CHECK(weekly["kind"] == "weekly");
    CHECK(weekly["verify"]["ok"] == true);

    REQUIRE(test::eventually([&] { return find_type(entries(n), "auth.key_refused").is_object(); }));
    list = entries(n);
    auto flag = find_type(list, "flag.set");
    REQUIRE(flag.is_object());
    CHECK(flag["user"] == "ops-anna");
    CHECK(flag["details"]["key"] == "ui.new_dashboard");
    CHECK(flag["details"]["new"] == true);
    flag_seq = flag["seq"].get<std::uint64_t>();
    CHECK(find_type(list, "scheduler.paused")["resource"] == "scheduler/audit.weekly");
    CHECK(find_type(list, "scheduler.resumed").is_object());
    CHECK(find_type(list, "scheduler.run").is_object());
    CHECK(find_type(list, "guard.clear")["details"]["client"] == "127.0.0.9");
    auto silenced = find_type(list, "alert.silenced");
    CHECK(silenced["resource"] == "alerts/silences/" + silence_id);
    CHECK(silenced["details"]["silence"]["created_by"] == "ops-ben");
    CHECK(find_type(list, "alert.silence_expired")["resource"] == "alerts/silences/" + silence_id);
    auto created = find_type(list, "client.created");
    CHECK(created["resource"] == "clients/subject:" + base::sha256_hex("client@example.com").substr(0, 12));
    CHECK(created["details"]["webhook_url_set"] == true);
    CHECK(list.dump().find("whsec_") == std::string::npos);
    CHECK(list.dump().find("hooks.example.com") == std::string::npos);
    auto rejection = find_type(list, "payment.rejected");
    CHECK(rejection["resource"] == "invoice/" + held[0]);
    CHECK(rejection["details"]["amount_cents"] == 600000);
    CHECK(find_type(list, "payment.approved")["resource"] == "invoice/" + held[1]);
    CHECK(list.dump().find("@example.com") == std::string::npos); // clients by subject ref only
    auto refused = find_type(list, "auth.key_refused");
    CHECK(refused["user"] == "127.0.0.1");
    CHECK(refused["resource"] == "GET /api/flags/get");
    CHECK(refused["details"]["key"] == "wrong");
    CHECK(list.dump().find(wrong) == std::string::npos); // the key given is never stored
    // Links: seq from 1, each prev_hash the hash before it.
    for (std::size_t i = 0; i < list.size(); ++i) {
      CHECK(list[i]["seq"] == i + 1);
      CHECK(list[i]["prev_hash"] == (i == 0 ? json("genesis") : list[i - 1]["hash"]));
    }

    // The report: counts per type for a period; bad input named.
    auto rep = n.get("/api/audit/report?since=2000-01-01", admin());
    REQUIRE_MESSAGE(rep.status == 200, rep.body);
    auto d = rep.json()["data"];
    CHECK(d["entries"] == list.size());
    CHECK(d["verify"]["ok"] == true);
    CHECK(d["period"]["by_event_type"]["flag.set"] == 1);
    CHECK(d["period"]["by_event_type"]["store.restored"] == 1);
    CHECK(n.get("/api/audit/report?since=2199-01-01", admin()).json()["data"]["period"]["entries"] == 0);
    CHECK(n.get("/api/audit/report?since=2999-01-01", admin()).status == 400);
    auto bad = n.get("/api/audit/report?since=yesterday", admin());
    CHECK(bad.status == 400);
    CHECK(bad.body.find("since") != std::string::npos);
    bad = n.get("/api/audit/report?since=2026-02-01&until=2026-01-01", admin());
    CHECK(bad.status == 400);
    CHECK(bad.body.find("until") != std::string::npos);
    CHECK(n.get("/api/audit/entries?limit=0", admin()).status == 400);
    CHECK(n.get("/api/audit/entries?limit=x", admin()).status == 400);
    CHECK(n.get("/api/audit/entries?after=-1", admin()).status == 400);
    // Paging: after= and next_after.
    auto page = n.get("/api/audit/entries?limit=2&after=1", admin()).json()["data"];
    REQUIRE(page["entries"].size() == 2);
    CHECK(page["entries"][0]["seq"] == 2);
    CHECK(page["next_after"] == 3);

    // The node's verify and the CLI's recomputation agree: intact.
    auto v = n.post("/api/audit/verify", "{}", admin());
    REQUIRE(v.status == 200);
    CHECK(v.json()["data"]["ok"] == true);
    auto r = audit_cli({"verify", "--url", n.base()});
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.rfind("audit chain intact: ", 0) == 0);
    r = audit_cli({"--json", "--url", n.base()});
    CHECK(r.status == 0);
    auto j = json::parse(r.out, nullptr, false);
    REQUIRE_MESSAGE(j.is_object(), r.out);
    CHECK(j["ok"] == true);
    CHECK(j["checked"] == list.size() + 0); // nothing audited since (reads are not)
    CHECK(j["recomputed"] == "client");
    r = audit_cli({"report", "--url", n.base(), "--since", "2000-01-01"});
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.find("verify      ok") != std::string::npos);
    CHECK(r.out.find("flag.set") != std::string::npos);
    // No key: the node refuses, exit 1, one line.
    r = audit_cli({"--url", n.base()}, "");
    CHECK(r.status == 1);
    CHECK(test::lines_of(r.err).size() == 1);
    REQUIRE(n.stop() == 0);
  }

  // Offline: one byte of the flag's entry changed.
  auto t = test::run_program({AUDIT_TAMPER, dir.path, std::to_string(flag_seq)});
  REQUIRE_MESSAGE(t.status == 0, t.err);
  CHECK(t.out.rfind("seq " + std::to_string(flag_seq) + ": byte ", 0) == 0);

  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  auto r = audit_cli({"verify", "--url", n.base()});
  CHECK(r.status == 1);
  CHECK(r.err == "echopilot: audit verify: the chain is broken at seq " + std::to_string(flag_seq)
                   + ": the hash does not match the entry's content (the entry was changed)\n");
  CHECK(r.out.rfind("audit chain BROKEN at seq " + std::to_string(flag_seq) + ": ", 0) == 0);
  auto v = n.post("/api/audit/verify", "{}", admin()).json()["data"];
  CHECK(v["ok"] == false);
  CHECK(v["first_broken"]["seq"] == flag_seq);
  CHECK(v["checked"] == flag_seq);
  auto rep = n.get("/api/audit/report", admin()).json()["data"];
  CHECK(rep["verify"]["first_broken"]["seq"] == flag_seq);
  CHECK(n.stop() == 0);
}

TEST_CASE("audit CLI: usage errors exit 2; a node that is not there exits 3") {
  auto r = audit_cli({"frobnicate"});
  CHECK(r.status == 2);
  CHECK(r.err == "echopilot: audit: unknown action 'frobnicate' (verify or report)\n");
  r = audit_cli({"verify", "--since", "2026-01-01"});
  CHECK(r.status == 2);
  r = audit_cli({"report", "--since", "yesterday"});
  CHECK(r.status == 2);
  r = audit_cli({"--url", "http://127.0.0.1:" + std::to_string(test::free_port())});
  CHECK(r.status == 3);
  CHECK(test::lines_of(r.err).size() == 1);
  r = test::run_program({ECHOPILOT_BINARY, "help", "audit"});
  CHECK(r.status == 0);
  CHECK(r.out.rfind("usage: echopilot audit", 0) == 0);
}
