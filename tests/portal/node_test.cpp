// The client portal through the real binary: the link routes' shapes, the
// page behind a link (403 for a changed link, 410 for an expired one,
// neither with client data), the portal API scoped to the link's email,
// chunked audio uploads (offset rules, 413, 415), transcription against
// the fake OpenAI-compatible server, and transcription_unavailable without
// a model.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "actors/portal/link.hpp"
#include "base/crypto.hpp"
#include "tests/support/fake_model.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
namespace portal = echopilot::portal;
using namespace std::chrono_literals;

namespace {

const std::string key = "test-dashboard-key-0123456789";
const std::string auth = "X-Dash-Key: " + key;
const std::string secret = "portal-test-session-secret-0123456789";
const std::string json_type = "Content-Type: application/json";

struct portal_node {
  test::temp_dir dir;
  std::unique_ptr<test::node> n;

  explicit portal_node(const test::fake_model* fake = nullptr) {
    auto config = dir.path + "/echopilot.json";
    // issue 15: a job below its QA threshold waits for a person; the local
    // scorer gives these short texts less than the default 90-95, so the
    // thresholds here let them complete.
    std::ofstream{config} << json{{"flags", {{"defaults", ""}}},
                                  {"portal", {{"link_ttl_hours", 24}}},
                                  {"jobs", {{"task_types", {{"summarize", 50}, {"other", 50}, {"transcription", 50}}}}}}
                               .dump();
    std::map<std::string, std::string> env = {
      {"DASHBOARD_KEY", key}, {"SESSION_SECRET", secret}, {"ECHOPILOT_WEB_ROOT", ECHOPILOT_SOURCE_DIR "/web"}};
    if (fake != nullptr) {
      env["AI_INTEGRATIONS_OPENAI_BASE_URL"] = fake->base_url();
      env["AI_INTEGRATIONS_OPENAI_API_KEY"] = "sk-fake-portal-test-123";
    }
    n = std::make_unique<test::node>(dir.path + "/data", env, std::vector<std::string>{"--config", config});
  }
  test::node* operator->() {
    return n.get();
  }
};

/// The query string (e=&exp=&sig=) of a fresh link for `email`.
std::string link_query(portal_node& p, const std::string& email) {
  auto r = p->post("/api/portal/link", json{{"email", email}}.dump(), {auth, json_type});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  std::string url = r.json()["url"];
  return url.substr(url.find('?') + 1);
}

/// `q` with the value of `name` changed in its last character.
std::string tampered(std::string q, const std::string& name) {
  auto at = q.find(name + "=");
  auto end = q.find('&', at);
  auto i = (end == std::string::npos ? q.size() : end) - 1;
  q[i] = q[i] == '1' ? '2' : '1';
  return q;
}

std::string expired_query(const std::string& email) {
  auto exp = std::to_string(std::time(nullptr) - 60);
  return "e=" + portal::percent_encode(email) + "&exp=" + exp + "&sig=" + portal::sign(secret, email, "portal", exp);
}

test::http_result put_chunk(portal_node& p, const std::string& q, const std::string& id, std::uint64_t offset,
                            const std::string& bytes, const std::string& type = "application/octet-stream") {
  return test::http("PUT", p->base() + "/api/portal/uploads/" + id + "?" + q + "&offset=" + std::to_string(offset),
                    {"Content-Type: " + type}, bytes);
}

std::string random_bytes(std::size_t n) {
  std::mt19937_64 gen{42};
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(gen() & 0xff);
  return s;
}

/// Uploads `bytes` as `name` in 1 MiB chunks; the upload id.
std::string upload(portal_node& p, const std::string& q, const std::string& name, const std::string& bytes) {
  auto r = p->post("/api/portal/uploads?" + q,
                   json{{"filename", name}, {"size", bytes.size()}, {"content_type", "audio/mpeg"}}.dump(), {json_type});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  std::string id = r.json()["data"]["upload_id"];
  for (std::size_t off = 0; off < bytes.size(); off += 1 << 20) {
    auto c = put_chunk(p, q, id, off, bytes.substr(off, 1 << 20));
    REQUIRE_MESSAGE(c.status == 200, c.body);
  }
  return id;
}

json events(portal_node& p) {
  auto r = p->get("/api/events/portal", {auth});
  REQUIRE(r.status == 200);
  return test::ndjson(r.body);
}

} // namespace

TEST_CASE("link routes answer data.url, url, full_url and expires_at; the page opens only with a valid link") {
  portal_node p;
  auto r = p->post("/api/portal/link", json{{"email", "ana+vip@example.com"}, {"expiry_hours", 2}}.dump(),
                   {auth, json_type});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto j = r.json();
  std::string url = j["data"]["url"];
  CHECK(url.rfind("/portal?e=ana%2Bvip%40example.com&exp=", 0) == 0);
  CHECK(j["url"] == url);
  CHECK(j["full_url"] == p->base() + url);
  CHECK(j["data"]["full_url"] == p->base() + url);
  std::string expires = j["expires_at"];
  CHECK(expires.size() >= 20);
  auto exp = j["data"]["exp"].get<std::int64_t>();
  CHECK(std::abs(exp - (std::time(nullptr) + 2 * 3600)) <= 5);

  auto s = p->get("/api/customer/signed-url/bo@example.com", {auth});
  REQUIRE_MESSAGE(s.status == 200, s.body);
  CHECK(s.json()["url"].get<std::string>().rfind("/portal?e=bo%40example.com&exp=", 0) == 0);
  CHECK(std::abs(s.json()["data"]["exp"].get<std::int64_t>() - (std::time(nullptr) + 24 * 3600)) <= 5);
  CHECK(s.json().contains("full_url"));
  CHECK(s.json().contains("expires_at"));

  // Admin only, and validated.
  CHECK(p->post("/api/portal/link", json{{"email", "ana@example.com"}}.dump(), {json_type}).status == 401);
  CHECK(p->get("/api/customer/signed-url/bo@example.com").status == 401);
  CHECK(p->post("/api/portal/link", json{{"email", "ana@example.com"}, {"expiry_hours", 0}}.dump(), {auth, json_type})
          .status == 400);
  CHECK(p->post("/api/portal/link", json{{"email", "not an email"}}.dump(), {auth, json_type}).status == 400);
  CHECK(p->post("/api/portal/link", json{{"expiry_hours", 3}}.dump(), {auth, json_type}).status == 400);

  auto page = p->get(url);
  CHECK(page.status == 200);
  CHECK(page.header("content-type").rfind("text/html", 0) == 0);
  CHECK(page.header("content-security-policy").find("default-src 'self'") != std::string::npos);
  CHECK(page.body.find("/portal/assets/portal.js") != std::string::npos);
  CHECK(p->get("/portal/assets/portal.js").status == 200);
  CHECK(p->get("/portal/assets/app.js").status == 404); // only the portal's own assets
  auto q = url.substr(url.find('?') + 1);
  for (auto name : {"e", "exp", "sig"}) {
    auto bad = p->get("/portal?" + tampered(q, name));
    CHECK_MESSAGE(bad.status == 403, name);
    CHECK(bad.body.find("example.com") == std::string::npos);
    CHECK(bad.body.find("<script") == std::string::npos);
  }
  CHECK(p->get("/portal").status == 403);
  // The return from checkout carries no link: a page that says what
  // happened, nothing of the client's.
  auto back = p->get("/portal?job=j1&status=success");
  CHECK(back.status == 200);
  CHECK(back.body.find("payment went through") != std::string::npos);
  CHECK(back.body.find("<script") == std::string::npos);
  CHECK(p->get("/portal?job=j1&status=cancelled").body.find("cancelled") != std::string::npos);
  CHECK(p->get("/portal?job=j1&status=other").status == 403);
  CHECK(p->get("/portal?" + tampered(q, "sig") + "&job=j1&status=success").status == 403);
  CHECK(p->get("/portal?e=ana%2Bvip%40example.com").status == 403);
  auto old = p->get("/portal?" + expired_query("ana+vip@example.com"));
  CHECK(old.status == 410);
  CHECK(old.body.find("example.com") == std::string::npos);

  // Public routes declare no security in the OpenAPI document.
  auto doc = p->get("/api/openapi.json", {auth}).json();
  CHECK(doc["paths"]["/portal"]["get"]["security"] == json::array());
  CHECK(doc["paths"]["/api/portal/jobs"]["get"]["security"] == json::array());
  CHECK(doc["paths"]["/api/portal/link"]["post"]["security"] != json::array());

  // Every issued and every refused link is an event; a refusal never
  // carries the signature.
  auto sig = q.substr(q.find("sig=") + 4);
  REQUIRE(test::eventually([&] { return events(p).size() >= 7; }));
  int issued = 0, refused = 0;
  for (auto& e : events(p)) {
    issued += e["kind"] == "link_issued";
    if (e["kind"] == "link_refused") {
      ++refused;
      CHECK(e.dump().find(sig) == std::string::npos);
      CHECK(!e["reason"].get<std::string>().empty());
    }
  }
  CHECK(issued == 2);
  CHECK(refused >= 6);
}

TEST_CASE("the portal API serves the link's email only") {
  portal_node p;
  auto qa = link_query(p, "ana@example.com");
  auto qb = link_query(p, "bo@example.com");
  // A job of Ana's, handed in through her link with another email in the body.
  auto r = p->post("/api/portal/jobs?" + qa,
                   json{{"email", "bo@example.com"}, {"task_type", "summarize"}, {"input", "Some text to sum up."},
                        {"title", "Mine"}, {"ref", "EP-0A1B2C"}}
                     .dump(),
                   {json_type});
  REQUIRE_MESSAGE(r.status == 201, r.body);
  std::string ana_job = r.json()["data"]["id"];
  auto admin_view = p->get("/api/jobs/" + ana_job, {auth}).json();
  CHECK(admin_view["data"]["email"] == "ana@example.com");
  // Bo's job, through the admin API.
  auto b = p->post("/api/jobs", json{{"email", "bo@example.com"}, {"task_type", "other"}, {"input", "x"}}.dump(),
                   {auth, json_type});
  REQUIRE(b.status == 201);
  std::string bo_job = b.json()["data"]["id"];

  // Validation as POST /api/jobs.
  auto admin_bad = p->post("/api/jobs", json{{"email", "ana@example.com"}, {"task_type", "nope"}, {"input", "x"}}.dump(),
                           {auth, json_type});
  auto portal_bad = p->post("/api/portal/jobs?" + qa, json{{"task_type", "nope"}, {"input", "x"}}.dump(), {json_type});
  CHECK(admin_bad.status >= 400);
  CHECK(portal_bad.status == admin_bad.status);
  CHECK(portal_bad.json()["error"]["code"] == admin_bad.json()["error"]["code"]);
  CHECK(p->post("/api/portal/jobs?" + qa, json{{"task_type", "other"}}.dump(), {json_type}).status >= 400);
  CHECK(p->post("/api/portal/jobs?" + qa, json{{"task_type", "other"}, {"input", "x"}, {"ref", "EP-zz"}}.dump(),
                {json_type})
          .status
        == 400);

  REQUIRE(test::eventually([&] {
    auto l = p->get("/api/portal/jobs?" + qa).json();
    return l["data"]["jobs"].size() == 1 && l["data"]["jobs"][0]["status"] == "completed";
  }));
  auto list = p->get("/api/portal/jobs?" + qa);
  auto lj = list.json();
  CHECK(lj["data"]["email"] == "ana@example.com");
  CHECK(lj["data"]["jobs"][0]["id"] == ana_job);
  CHECK(!lj["data"]["jobs"][0]["result"].get<std::string>().empty());
  CHECK(lj["data"]["jobs"][0].contains("payment_status"));
  CHECK(lj["data"]["jobs"][0].contains("price_usd"));
  CHECK(lj["data"]["jobs"][0].contains("qa_score"));
  CHECK(list.body.find("bo@example.com") == std::string::npos);
  CHECK(list.body.find(bo_job) == std::string::npos);
  // Invoices come from the payments actor; without one in the tree, an
  // honest warning.
  auto tree = p->get("/api/supervision/tree", {auth}).json()["data"];
  if (test::tree_node(tree, "payments").is_null()) {
    CHECK(lj["data"]["invoices"].empty());
    CHECK(!lj["warnings"].empty());
  } else {
    CHECK(!lj.contains("warnings"));
    for (auto& i : lj["data"]["invoices"])
      CHECK(i["email"] == "ana@example.com");
  }

  CHECK(p->get("/api/portal/jobs/" + ana_job + "?" + qa).status == 200);
  auto other = p->get("/api/portal/jobs/" + bo_job + "?" + qa);
  CHECK(other.status == 404);
  CHECK(other.body.find("bo@example.com") == std::string::npos);
  CHECK(p->get("/api/portal/jobs/" + ana_job + "?" + qb).status == 404);
  CHECK(p->get("/api/portal/jobs/" + bo_job + "?" + qb).status == 200);
  // Extra parameters change nothing: the email is the link's.
  auto extra = p->get("/api/portal/jobs?" + qa + "&email=bo%40example.com");
  CHECK(extra.body.find(bo_job) == std::string::npos);

  // A changed or expired link: nothing.
  for (auto name : {"e", "exp", "sig"}) {
    auto bad = p->get("/api/portal/jobs?" + tampered(qa, name));
    CHECK(bad.status == 403);
    CHECK(bad.body.find("ana@example.com") == std::string::npos);
    CHECK(p->post("/api/portal/jobs?" + tampered(qa, name), json{{"task_type", "other"}, {"input", "x"}}.dump(),
                  {json_type})
            .status
          == 403);
  }
  auto old = p->get("/api/portal/jobs?" + expired_query("ana@example.com"));
  CHECK(old.status == 410);
  CHECK(old.body.find(ana_job) == std::string::npos);
  CHECK(p->get("/api/portal/jobs").status == 403);

  // The referral was recorded with the link's email.
  bool referral = false;
  for (auto& e : events(p))
    if (e["kind"] == "referral")
      referral = e["code"] == "EP-0A1B2C" && e["email"] == "ana@example.com";
  CHECK(referral);
}

TEST_CASE("chunked audio uploads: offsets, retries, gaps, 413, 415; no model: transcription_unavailable") {
  portal_node p;
  auto q = link_query(p, "ana@example.com");
  auto qb = link_query(p, "bo@example.com");
  auto bytes = random_bytes(3 * (1 << 20) + 12345);
  auto create = [&](json body) { return p->post("/api/portal/uploads?" + q, body.dump(), {json_type}); };
  auto c = create({{"filename", "talk.mp3"}, {"size", bytes.size()}, {"content_type", "audio/mpeg"}});
  REQUIRE_MESSAGE(c.status == 201, c.body);
  std::string id = c.json()["data"]["upload_id"];
  CHECK(c.json()["data"]["received"] == 0);

  const std::size_t mib = 1 << 20;
  CHECK(put_chunk(p, q, id, 0, bytes.substr(0, mib)).json()["data"]["received"] == mib);
  // A retried chunk changes nothing; a gap or a wrong start is 409.
  CHECK(put_chunk(p, q, id, 0, bytes.substr(0, mib)).json()["data"]["received"] == mib);
  auto gap = put_chunk(p, q, id, 2 * mib, bytes.substr(2 * mib, mib));
  CHECK(gap.status == 409);
  CHECK(gap.json()["error"]["code"] == "offset_mismatch");
  CHECK(put_chunk(p, q, id, mib - 10, bytes.substr(mib - 10, 100)).status == 409);
  // Another client's link does not reach the upload; JSON chunks are refused.
  CHECK(put_chunk(p, qb, id, mib, bytes.substr(mib, mib)).status == 404);
  CHECK(put_chunk(p, q, id, mib, bytes.substr(mib, mib), "application/json").status == 415);
  CHECK(put_chunk(p, tampered(q, "sig"), id, mib, bytes.substr(mib, mib)).status == 403);
  // A chunk over 1 MiB is refused by the route's body limit.
  CHECK(put_chunk(p, q, id, mib, bytes.substr(mib, mib + 1)).status == 413);
  for (std::size_t off = mib; off < bytes.size(); off += mib) {
    auto r = put_chunk(p, q, id, off, bytes.substr(off, mib));
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  auto done = put_chunk(p, q, id, bytes.size() - 5, bytes.substr(bytes.size() - 5));
  CHECK(done.json()["data"]["complete"] == true);
  CHECK(done.json()["data"]["received"] == bytes.size());
  // Past the declared size.
  CHECK(put_chunk(p, q, id, bytes.size(), "x").status == 413);
  // The file on disk is the upload, byte for byte.
  std::ifstream in{p.dir.path + "/data/uploads/" + id + ".bin", std::ios::binary};
  std::string on_disk{std::istreambuf_iterator<char>{in}, {}};
  CHECK(on_disk.size() == bytes.size());
  CHECK(on_disk == bytes);

  // Limits and types.
  auto big = create({{"filename", "long.wav"}, {"size", 50'000'001}, {"content_type", "audio/wav"}});
  CHECK(big.status == 413);
  CHECK(create({{"filename", "ok.wav"}, {"size", 50'000'000}, {"content_type", "audio/wav"}}).status == 201);
  CHECK(create({{"filename", "notes.txt"}, {"size", 10}, {"content_type", "text/plain"}}).status == 415);
  CHECK(create({{"filename", "notes.txt"}, {"size", 10}, {"content_type", "audio/mpeg"}}).status == 415);
  CHECK(create({{"filename", "talk.mp3"}, {"size", 10}, {"content_type", "application/pdf"}}).status == 415);
  CHECK(create({{"filename", "talk.mp3"}, {"size", 0}, {"content_type", "audio/mpeg"}}).status == 400);
  CHECK(create({{"filename", "talk.mp3"}, {"content_type", "audio/mpeg"}}).status == 400);

  // The local processor cannot hear audio: refused, honestly.
  auto t = p->post("/api/portal/jobs?" + q, json{{"upload_id", id}, {"task_type", "transcription"}}.dump(),
                   {json_type});
  CHECK(t.status == 422);
  CHECK(t.json()["error"]["code"] == "transcription_unavailable");
}

TEST_CASE("an uploaded file is transcribed through the model API and the transcript becomes the job's input") {
  test::fake_model fake;
  portal_node p{&fake};
  auto q = link_query(p, "ana@example.com");
  auto qb = link_query(p, "bo@example.com");
  auto bytes = random_bytes(5 * (1 << 20) + 777);
  auto id = upload(p, q, "meeting.mp3", bytes);

  // Not Bo's to transcribe, and not before it is complete.
  CHECK(p->post("/api/portal/jobs?" + qb, json{{"upload_id", id}}.dump(), {json_type}).status == 404);
  auto partial = p->post("/api/portal/uploads?" + q,
                         json{{"filename", "half.ogg"}, {"size", 100}, {"content_type", "audio/ogg"}}.dump(),
                         {json_type});
  std::string half = partial.json()["data"]["upload_id"];
  CHECK(put_chunk(p, q, half, 0, std::string(50, 'a')).status == 200);
  auto early = p->post("/api/portal/jobs?" + q, json{{"upload_id", half}}.dump(), {json_type});
  CHECK(early.status == 409);

  auto t = p->post("/api/portal/jobs?" + q,
                   json{{"upload_id", id}, {"task_type", "transcription"}, {"email", "bo@example.com"}}.dump(),
                   {json_type});
  REQUIRE_MESSAGE(t.status == 201, t.body);
  std::string job_id = t.json()["data"]["id"];
  CHECK(t.json()["data"]["task_type"] == "transcription");
  auto admin = p->get("/api/jobs/" + job_id, {auth}).json()["data"];
  CHECK(admin["email"] == "ana@example.com");
  CHECK(admin["task_type"] == "transcription");
  CHECK(admin["input"] == "transcript of meeting.mp3: " + std::to_string(bytes.size()) + " bytes, sha256 "
                            + base::sha256_hex(bytes));
  auto stats = fake.stats();
  REQUIRE(stats["transcriptions"].size() == 1);
  CHECK(stats["transcriptions"][0]["model"] == "whisper-1");
  CHECK(stats["transcriptions"][0]["bytes"] == bytes.size());
  // The audio is gone once its transcript is a job.
  CHECK(!std::filesystem::exists(p.dir.path + "/data/uploads/" + id + ".bin"));
  CHECK(p->get("/api/portal/jobs/" + job_id + "?" + q).status == 200);
}
