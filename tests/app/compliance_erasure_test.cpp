// -- compliance (issue 17): erasure (S24) everywhere the node keeps a data
// subject, on the real binary. Two clients each have a client record with a
// completion webhook (a real receiver on loopback), a job (delivered to the
// webhook), an invoice (dry-run) and an email in the outbox (dry-run). The
// erasure of one rewrites her jobs, invoices, outbox messages, webhook
// deliveries, client record and every stream event naming her (no stream
// keeps her address); the other client's export is byte-identical before
// and after; the audit chain still verifies. With regions, the erasure runs
// on the peer too (its copies of replicated records and the events it keeps
// to pass on); a peer that is down is reported. Admin changes the erasure
// test makes on the way (client settings) are in the audit chain, by
// subject ref, without the secret.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "base/crypto.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string key = "compliance-erasure-test-key-0123456789";

std::vector<std::string> admin() {
  return {"X-Dash-Key: " + key, "Content-Type: application/json"};
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct receiver {
  std::unique_ptr<test::child_process> proc;
  std::string root;

  receiver() {
    proc = std::make_unique<test::child_process>(std::vector<std::string>{
      "/usr/bin/python3", ECHOPILOT_SOURCE_DIR "/tests/fakes/fake_webhook_receiver.py", "--port", "0"});
    auto line = proc->read_line(20s);
    REQUIRE_MESSAGE(line, proc->read_stderr());
    REQUIRE(line->rfind("listening on ", 0) == 0);
    root = "http://127.0.0.1:" + line->substr(13);
  }
};

json data_of(const test::http_result& r, long expect) {
  REQUIRE_MESSAGE(r.status == expect, r.body);
  auto d = r.json();
  return d["data"];
}

json export_of(const test::node& n, const std::string& email) {
  return data_of(n.get("/api/compliance/export-data?email=" + email, admin()), 200);
}

/// The events of the streams a client's work writes to, as one text, read
/// through /api/events (not through compliance's own scan).
std::string all_events(const test::node& n) {
  std::string out;
  for (const char* s : {"jobs", "payments", "email", "job_webhooks", "replication", "audit"}) {
    auto r = n.get(std::string{"/api/events/"} + s + "?limit=10000", admin());
    CHECK_MESSAGE(r.status == 200, s);
    out += r.body;
  }
  return out;
}

/// A client with a webhook, a job delivered to it, an invoice and an email.
std::string make_subject(test::node& n, const std::string& email, const receiver& rx) {
  auto c = test::http("PUT", n.base() + "/api/clients/" + email, admin(),
                      json{{"webhook_url", rx.root + "/hooks"}}.dump());
  REQUIRE_MESSAGE(c.status == 201, c.body);
  auto job = data_of(n.post("/api/jobs",
                            json{{"email", email}, {"task_type", "summarize"},
                                 {"input", "Quarterly revenue grew 12 percent while costs stayed flat."}}
                              .dump(),
                            admin()),
                     201);
  auto id = job["id"].get<std::string>();
  data_of(n.post("/api/payments/create-invoice", json{{"amount", 12.5}, {"email", email}}.dump(), admin()), 200);
  data_of(n.post("/api/email/send", json{{"to", email}, {"subject", "Your report"}, {"text", "Hello."}}.dump(),
                 admin()),
          201);
  // Finished and delivered: nothing of it is still held in an actor's memory.
  bool delivered = test::eventually([&] {
    auto d = n.get("/api/webhooks/deliveries?job=" + id, admin());
    if (d.status != 200)
      return false;
    auto list = d.json()["data"]["deliveries"];
    return !list.empty() && list[0].value("status", "") == "delivered";
  });
  REQUIRE_MESSAGE(delivered, n.get("/api/webhooks/deliveries?job=" + id, admin()).body);
  return id;
}

} // namespace

TEST_CASE("erasure rewrites jobs, invoices, outbox, deliveries, the client and every stream; the other untouched") {
  receiver rx;
  test::temp_dir dir;
  test::node n{dir.path, {{"DASHBOARD_KEY", key}}};
  auto alice_job = make_subject(n, "alice@example.com", rx);
  make_subject(n, "bob@example.com", rx);

  auto before = export_of(n, "alice@example.com");
  auto sections = before["sections"];
  for (auto source : {"table:jobs", "table:pay_invoices", "table:email_outbox", "table:webhook_deliveries",
                      "table:clients", "stream:jobs", "stream:replication"})
    CHECK_MESSAGE(sections.contains(source), source << " in " << dump(sections).substr(0, 2000));
  auto bob_before = export_of(n, "bob@example.com");

  auto e = n.post("/api/compliance/erase", R"({"email": "alice@example.com", "who": "dpo"})", admin());
  auto summary = data_of(e, 200);
  auto pseudonym = "erased-" + base::sha256_hex("alice@example.com").substr(0, 12);
  CHECK(summary["pseudonym"] == pseudonym);
  CHECK_FALSE(summary.contains("not_erased"));
  for (auto& [source, items] : sections.items())
    if (source != "audit" && source != "stream:access") { // the access log is appended to after each request
      std::string section = source; // (a copy: doctest's message lambda cannot capture a structured binding)
      CHECK_MESSAGE(summary["changed"][source] == items.size(), section);
    }

  // Nothing names her any more: no record, no event, in any table or stream.
  auto after = n.get("/api/compliance/export-data?email=alice@example.com", admin());
  if (after.status == 200) {
    auto left = after.json()["data"]["sections"];
    for (auto& [source, items] : left.items()) {
      (void)items;
      std::string section = source;
      CHECK_MESSAGE(source == "audit", section);
    }
  } else {
    CHECK(after.status == 404);
  }
  CHECK(all_events(n).find("alice@example.com") == std::string::npos);
  auto job = data_of(n.get("/api/jobs/" + alice_job, admin()), 200);
  CHECK(job["email"] == pseudonym);
  CHECK(job["status"] == "completed"); // anonymised, not lost: accounting keeps it

  // Bob: byte-identical (but the access log, which the node appends to
  // after each request and which the exports themselves add to: his entries
  // there still name him).
  auto bob_after = export_of(n, "bob@example.com");
  auto access = bob_after["sections"]["stream:access"];
  CHECK(dump(access).find("bob@example.com") != std::string::npos);
  bob_after["sections"].erase("stream:access");
  bob_before["sections"].erase("stream:access");
  CHECK(dump(bob_after["sections"]) == dump(bob_before["sections"]));

  // The chain verifies; the client settings were audited by subject ref,
  // never with the address or the secret; the erasure entry counts streams.
  auto entries = data_of(n.get("/api/audit/entries?limit=1000", admin()), 200)["entries"];
  int clients = 0;
  json erased;
  for (auto& x : entries) {
    if (x["event_type"] == "client.created")
      ++clients;
    if (x["event_type"] == "compliance.erased")
      erased = x;
  }
  CHECK(clients == 2);
  REQUIRE(erased.is_object());
  CHECK(erased["details"]["changed"]["stream:jobs"] == sections["stream:jobs"].size());
  CHECK(dump(entries).find("@example.com") == std::string::npos);
  CHECK(dump(entries).find("whsec_") == std::string::npos);
  CHECK(data_of(n.post("/api/audit/verify", "{}", admin()), 200)["ok"] == true);
  CHECK(n.stop() == 0);
}

TEST_CASE("with regions: the peer's replicated job is anonymised too") {
  test::temp_dir dir;
  auto config = dir.path + "/echopilot.json";
  std::ofstream{config} << json{{"flags", {{"defaults", ""}}}}.dump(2);
  auto port_a = test::free_port(), port_b = test::free_port();
  auto start = [&](const std::string& name, std::uint16_t port, std::uint16_t peer) {
    return std::make_unique<test::node>(
      dir.path + "/" + name,
      std::map<std::string, std::string>{{"DASHBOARD_KEY", key},
                                         {"ECHOPILOT_CLUSTER_SECRET", "compliance-cluster-secret-0123456789"}},
      std::vector<std::string>{"--config", config, "--region", name, "--cluster-port", std::to_string(port),
                               "--peer", "127.0.0.1:" + std::to_string(peer)});
  };
  auto a = start("region-a", port_a, port_b);
  auto b = start("region-b", port_b, port_a);
  auto job = data_of(a->post("/api/jobs",
                             json{{"email", "carol@example.com"}, {"task_type", "summarize"},
                                  {"input", "Quarterly revenue grew 12 percent while costs stayed flat."}}
                               .dump(),
                             admin()),
                     201);
  auto id = job["id"].get<std::string>();
  // B keeps A's job as a copy of another region's record.
  auto copy = [&] {
    auto r = b->get("/api/regions/records/jobs/" + id, admin());
    json record = r.status == 200 ? r.json()["data"]["record"] : json(nullptr);
    return record.is_object() ? record : json::object();
  };
  REQUIRE(test::eventually([&] { return copy().value("status", "") == "completed"; }));
  // A sees B up (its link reached B's cluster actor): the erasure goes there too.
  REQUIRE(test::eventually([&] {
    auto r = a->get("/api/regions/status", admin());
    if (r.status != 200)
      return false;
    auto peers = r.json()["data"]["peers"];
    return !peers.empty() && peers[0].value("state", "") == "up";
  }));
  auto summary = data_of(a->post("/api/compliance/erase", R"({"email": "carol@example.com"})", admin()), 200);
  auto peer = "127.0.0.1:" + std::to_string(port_b);
  CHECK_MESSAGE(summary["peers"][peer]["status"] == "erased", dump(summary));
  CHECK(summary["peers"][peer]["region"] == "region-b");
  auto pseudonym = "erased-" + base::sha256_hex("carol@example.com").substr(0, 12);
  bool anonymised = test::eventually([&] { return copy().value("email", "") == pseudonym; });
  CHECK_MESSAGE(anonymised, dump(copy()));
  // Neither node holds a record or an event naming her (the replicated
  // events B kept to pass on included); their audit entries name the subject
  // ref only.
  for (auto* n : {a.get(), b.get()}) {
    auto left = n->get("/api/compliance/export-data?email=carol@example.com", admin());
    if (left.status == 200) {
      auto sections = left.json()["data"]["sections"];
      for (auto& [source, items] : sections.items()) {
        (void)items;
        std::string section = source;
        CHECK_MESSAGE(source == "audit", section);
      }
    } else {
      CHECK(left.status == 404);
    }
  }
  // Again: nothing left anywhere is a 404.
  CHECK(a->post("/api/compliance/erase", R"({"email": "carol@example.com"})", admin()).status == 404);
  // A peer that is down is said so, with its address: erase again later.
  CHECK(b->stop() == 0);
  REQUIRE(test::eventually([&] {
    auto r = a->get("/api/regions/status", admin());
    return r.status == 200 && r.json()["data"]["peers"][0].value("state", "") == "down";
  }));
  data_of(a->post("/api/jobs",
                  json{{"email", "dave@example.com"}, {"task_type", "summarize"},
                       {"input", "Quarterly revenue grew 12 percent while costs stayed flat."}}
                    .dump(),
                  admin()),
          201);
  auto partial = data_of(a->post("/api/compliance/erase", R"({"email": "dave@example.com"})", admin()), 200);
  CHECK_MESSAGE(partial["peers"][peer]["status"] == "unreachable", dump(partial));
  CHECK(a->stop() == 0);
}
