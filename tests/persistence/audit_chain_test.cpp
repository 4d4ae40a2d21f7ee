// The audit chain (persistence/audit_chain.hpp): canonical JSON and hash,
// the genesis link, verify naming the first broken link (a changed field, a
// removed entry, a reordered pair), and the writer appending entries inside
// the transaction of their request (a request failing with `exists` leaves
// no entry; nested or not).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <future>
#include <mutex>

#include <caf/scoped_actor.hpp>

#include "base/clock.hpp"
#include "base/crypto.hpp"
#include "persistence/audit_chain.hpp"
#include "tests/persistence/support.hpp"

using namespace persistence;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json entry_payload(const std::string& type, const std::string& resource) {
  return {{"event_type", type}, {"user", "admin"}, {"action", "set"}, {"resource", resource},
          {"details", {{"value", resource}}}};
}

/// Writes `n` audited requests (a put and its audit entry) and returns the
/// stored chain.
std::vector<event> stored_chain(int n) {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  base::manual_clock clock{base::time_point{std::chrono::seconds{1767571200}}}; // 2026-01-05T00:00:00Z
  auto w = spawn_writer(b.sys, env, clock);
  for (int i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i);
    REQUIRE(ptest::write(b.sys, w, {op::put("records", key, i), op::audit(entry_payload("flag.set", key))}));
    clock.advance(std::chrono::seconds{1});
  }
  auto out = ptest::must(env->read_stream(audit_stream, 1, 100));
  ptest::stop(b.sys, w);
  return out;
}

json verify(const std::vector<event>& chain) {
  audit_verifier v;
  for (auto& e : chain)
    if (!v.feed(e.seq, e.json))
      break;
  return v.to_json();
}

} // namespace

TEST_CASE("canonical JSON: keys sorted at every depth, compact, without the hash; the hash is its SHA-256") {
  json e = {{"user", "admin"},          {"ts", "2026-01-05T00:00:00Z"}, {"seq", 1},
            {"resource", "flags/beta"}, {"prev_hash", "genesis"},       {"hash", "ignored"},
            {"event_type", "flag.set"}, {"details", {{"b", {2, "x"}}, {"a", 1}}}, {"action", "set"}};
  auto expected = std::string{R"({"action":"set","details":{"a":1,"b":[2,"x"]},"event_type":"flag.set",)"}
                  + R"("prev_hash":"genesis","resource":"flags/beta","seq":1,"ts":"2026-01-05T00:00:00Z","user":"admin"})";
  CHECK(audit_canonical(e) == expected);
  // Computed independently (Python hashlib over the same text).
  CHECK(audit_hash(e) == "231114d99485e673eed5a79962346afa7427961a26e05671d954cc4dc1603f8b");
  e["hash"] = "something else";
  CHECK(audit_hash(e) == "231114d99485e673eed5a79962346afa7427961a26e05671d954cc4dc1603f8b");
  e["prev_hash"] = "0000";
  CHECK(audit_hash(e) != "231114d99485e673eed5a79962346afa7427961a26e05671d954cc4dc1603f8b");
}

TEST_CASE("the writer's entries: seq from 1, the first linked to genesis, each to the one before; all verify") {
  auto chain = stored_chain(4);
  REQUIRE(chain.size() == 4);
  std::string prev = audit_genesis;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    auto e = json::parse(chain[i].json);
    CHECK(chain[i].seq == i + 1);
    CHECK(e["seq"] == i + 1);
    CHECK(e["prev_hash"] == prev);
    CHECK(e["hash"] == audit_hash(e));
    CHECK(e["event_type"] == "flag.set");
    CHECK(e["ts"] == "2026-01-05T00:00:0" + std::to_string(i) + ".000Z");
    prev = e["hash"].get<std::string>();
  }
  auto r = verify(chain);
  CHECK(r["ok"] == true);
  CHECK(r["checked"] == 4);
  CHECK(r["first_broken"].is_null());
}

TEST_CASE("verify names the first broken link") {
  auto chain = stored_chain(5);
  REQUIRE(chain.size() == 5);
  SUBCASE("a changed field") {
    auto e = json::parse(chain[2].json);
    e["resource"] = "k9"; // seq 3
    chain[2].json = e.dump();
    auto r = verify(chain);
    CHECK(r["ok"] == false);
    CHECK(r["first_broken"]["seq"] == 3);
    CHECK(r["first_broken"]["reason"].get<std::string>().find("hash does not match") != std::string::npos);
    CHECK(r["checked"] == 3);
  }
  SUBCASE("a changed field with its hash recomputed: the next link breaks") {
    auto e = json::parse(chain[2].json);
    e["resource"] = "k9";
    e["hash"] = audit_hash(e);
    chain[2].json = e.dump();
    auto r = verify(chain);
    CHECK(r["first_broken"]["seq"] == 4);
    CHECK(r["first_broken"]["reason"] == "prev_hash is not the hash of entry 3");
  }
  SUBCASE("a removed entry") {
    chain.erase(chain.begin() + 1); // seq 2
    auto r = verify(chain);
    CHECK(r["first_broken"]["seq"] == 3);
    CHECK(r["first_broken"]["reason"] == "entries after seq 1 are missing");
  }
  SUBCASE("the first entry removed") {
    chain.erase(chain.begin());
    auto r = verify(chain);
    CHECK(r["first_broken"]["seq"] == 2);
  }
  SUBCASE("a reordered pair (the texts under seq 2 and 3 swapped)") {
    std::swap(chain[1].json, chain[2].json);
    auto r = verify(chain);
    CHECK(r["first_broken"]["seq"] == 2);
    CHECK(r["first_broken"]["reason"].get<std::string>().find("does not say so") != std::string::npos);
  }
  SUBCASE("a reordered pair renumbered and rehashed: the links still break") {
    auto a = json::parse(chain[1].json);
    auto b2 = json::parse(chain[2].json);
    std::swap(a["seq"], b2["seq"]);
    a["hash"] = audit_hash(a);
    b2["hash"] = audit_hash(b2);
    chain[1].json = b2.dump();
    chain[2].json = a.dump();
    auto r = verify(chain);
    CHECK(r["first_broken"]["seq"] == 2);
    CHECK(r["first_broken"]["reason"] == "prev_hash is not the hash of entry 1");
  }
  SUBCASE("one byte changed, not valid JSON any more") {
    chain[3].json.back() = ']';
    auto r = verify(chain);
    CHECK(r["first_broken"]["seq"] == 4);
    CHECK(r["first_broken"]["reason"] == "the entry is not a JSON object");
  }
}

TEST_CASE("an audit op is in its request's transaction: a request failing with exists leaves no entry") {
  for (bool nested : {false, true}) {
    CAPTURE(nested);
    ptest::temp_dir d;
    auto env = ptest::open_store(d.path);
    ptest::system_bed b;
    writer_options wo;
    wo.nested_txns = nested;
    // Hold the writer in its first commit so the next requests form one batch.
    std::promise<void> entered;
    std::promise<void> release;
    std::shared_future<void> released{release.get_future().share()};
    std::atomic<int> calls{0};
    wo.before_commit = [&](std::size_t) {
      if (calls++ == 0) {
        entered.set_value();
        released.wait();
      }
      return 0;
    };
    auto w = spawn_writer(b.sys, env, base::default_clock(), wo);
    caf::scoped_actor first{b.sys};
    auto h0 = first->request(w, 60s, write_atom::value,
                             write_request{op::insert("records", "dup", 0), op::audit(entry_payload("a.first", "dup"))});
    entered.get_future().wait();
    std::vector<std::unique_ptr<caf::scoped_actor>> actors;
    std::vector<decltype(h0)> hs;
    std::vector<write_request> reqs{
      {op::put("records", "x", 1), op::audit(entry_payload("a.ok", "x"))},
      {op::audit(entry_payload("a.dup", "dup")), op::insert("records", "dup", 1)}, // exists
      {op::put("records", "y", 1), op::audit(entry_payload("a.ok", "y"))},
    };
    for (auto& r : reqs) {
      actors.push_back(std::make_unique<caf::scoped_actor>(b.sys));
      hs.push_back((*actors.back())->request(w, 60s, write_atom::value, std::move(r)));
    }
    release.set_value();
    std::vector<std::string> answers;
    auto collect = [&](decltype(h0)& h) {
      h.receive([&](write_ack&) { answers.emplace_back(); },
                [&](caf::error& e) { answers.push_back(ptest::code_of(e)); });
    };
    collect(h0);
    for (auto& h : hs)
      collect(h);
    CHECK(answers == std::vector<std::string>{"", "", "exists", ""});
    auto chain = ptest::must(env->read_stream(audit_stream, 1, 10));
    REQUIRE(chain.size() == 3);
    CHECK(json::parse(chain[0].json)["event_type"] == "a.first");
    CHECK(json::parse(chain[1].json)["resource"] == "x");
    CHECK(json::parse(chain[2].json)["resource"] == "y");
    auto r = verify(chain);
    CHECK(r["ok"] == true);
    CHECK(r["checked"] == 3);
    CHECK(ptest::must(verify_audit_chain(*env))["ok"] == true);
    ptest::stop(b.sys, w);
  }
}

TEST_CASE("a malformed audit op is refused alone before the transaction") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  auto bad = [&](json p) {
    auto r = ptest::write(b.sys, w, {op::put("records", "z", 1), op::audit(std::move(p))});
    REQUIRE_FALSE(r);
    return ptest::code_of(r.error());
  };
  CHECK(bad({{"action", "x"}}) == "invalid_request");                                       // no event_type
  CHECK(bad({{"event_type", "t"}, {"action", "x"}, {"hash", "forged"}}) == "invalid_request"); // writer's field
  CHECK(bad({{"event_type", "t"}, {"action", "x"}, {"details", 3}}) == "invalid_request");
  CHECK_FALSE(ptest::must(env->get("records", "z")));
  CHECK(ptest::must(env->last_seq(audit_stream)) == 0);
  ptest::stop(b.sys, w);
}
