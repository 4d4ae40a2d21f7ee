// The job queue on CAF's deterministic test coordinator, over an in-memory
// store whose writer a test can hold (a commit that has not returned yet):
// admission (jobs.max_queued, max_queued_bytes), Idempotency-Key (a retry
// answers the first job, another body is refused, a key whose first request
// is being stored is a conflict, keys survive a new incarnation, expire and
// are capped), and lists read outside the queue (the queue itself reads no
// record for a list, and at most max_list_readers run at once).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/jobs/jobs_actors.hpp"
#include "tests/support/deterministic.hpp"
#include "supervision/directory.hpp"

using namespace echopilot;
using namespace echopilot::jobs;
using nlohmann::json;
using persistence::op;

namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;

/// The tables, as the writer left them, and the requests it took.
struct fake_db {
  std::map<std::string, std::map<std::string, json>> tables;
  std::vector<persistence::write_request> requests;
  /// While set, writes wait for release_atom (a commit under way).
  bool hold = false;
  /// While set, writes fail and nothing of them is applied.
  bool fail = false;
  std::vector<std::pair<persistence::write_request, caf::typed_response_promise<persistence::write_ack>>> held;
  /// Records of table "jobs" read by scans (the work of lists).
  std::size_t records_scanned = 0;

  void apply(const persistence::write_request& req) {
    requests.push_back(req);
    for (auto& o : req) {
      if (o.what == op::kind::put)
        tables[o.name][o.key] = o.value;
      else if (o.what == op::kind::del)
        tables[o.name].erase(o.key);
    }
  }
};

caf::behavior fake_writer(caf::event_based_actor* self, std::shared_ptr<fake_db> db) {
  return {
    [self, db](persistence::write_atom, persistence::write_request& req)
      -> caf::result<persistence::write_ack> {
      if (db->fail)
        return caf::make_error(caf::sec::runtime_error, "the disk is full");
      if (db->hold) {
        auto rp = self->make_response_promise<persistence::write_ack>();
        db->held.emplace_back(std::move(req), rp);
        return rp;
      }
      db->apply(req);
      return persistence::write_ack{};
    },
    [db](release_atom) {
      db->hold = false;
      for (auto& [req, rp] : db->held) {
        db->apply(req);
        rp.deliver(persistence::write_ack{});
      }
      db->held.clear();
    },
  };
}

class fake_port : public store_port {
public:
  std::shared_ptr<fake_db> db;
  caf::actor writer;

  std::vector<json> active_jobs() override {
    std::vector<json> out;
    for (auto& [id, j] : db->tables["jobs"])
      if (j["status"] == "queued" || j["status"] == "processing")
        out.push_back(j);
    return out;
  }
  std::map<std::string, json> days() override {
    return db->tables["job_days"];
  }
  json counts() override {
    auto& meta = db->tables["job_meta"];
    auto i = meta.find("counts");
    return i != meta.end() ? i->second : json::object();
  }
  std::optional<json> get(const std::string& id) override {
    auto& t = db->tables["jobs"];
    auto i = t.find(id);
    return i != t.end() ? std::optional<json>{i->second} : std::nullopt;
  }
  std::optional<json> result(const std::string& id) override {
    auto& t = db->tables[results_table];
    auto i = t.find(id);
    if (i == t.end())
      return std::nullopt;
    return i->second;
  }

  std::vector<std::string> result_ids(const std::string& from, const std::string& to, std::size_t limit) override {
    std::vector<std::string> out;
    for (auto& [id, r] : db->tables[results_table])
      if (id >= from && (to.empty() || id < to) && out.size() < limit)
        out.push_back(id);
    return out;
  }

  std::optional<json> key(const std::string& k) override {
    auto& t = db->tables["job_keys"];
    auto i = t.find(k);
    return i != t.end() ? std::optional<json>{i->second} : std::nullopt;
  }
  std::vector<std::string> keys_before(std::int64_t before_ms, std::size_t limit) override {
    std::vector<std::pair<std::int64_t, std::string>> all;
    for (auto& [k, rec] : db->tables["job_keys"])
      if (rec["created_ms"].get<std::int64_t>() < before_ms)
        all.emplace_back(rec["created_ms"].get<std::int64_t>(), k);
    std::sort(all.begin(), all.end());
    std::vector<std::string> out;
    for (auto& [t, k] : all)
      if (out.size() < limit)
        out.push_back(k);
    return out;
  }
  void scan_back(const std::string& from, const std::string& to, std::size_t limit,
                 const std::function<bool(const json&)>& fn) override {
    auto& t = db->tables["jobs"];
    std::size_t n = 0;
    for (auto i = t.rbegin(); i != t.rend() && n < limit; ++i) {
      if ((!to.empty() && i->first >= to) || i->first < from)
        continue;
      ++n;
      ++db->records_scanned;
      if (!fn(i->second))
        return;
    }
  }
  void commit(caf::event_based_actor* self, persistence::write_request req,
              std::function<void(const caf::error&)> done) override {
    self->request(writer, caf::infinite, persistence::write_atom::value, std::move(req))
      .then([done](persistence::write_ack&) { done(caf::error{}); },
            [done](caf::error& e) { done(e); });
  }
  void barrier(caf::event_based_actor* self, persistence::write_request req,
               std::function<void(const caf::error&)> done) override {
    self->request(writer, caf::infinite, persistence::write_atom::value, std::move(req))
      .await([done](persistence::write_ack&) { done(caf::error{}); },
             [done](caf::error& e) { done(e); });
  }
};

/// A worker that takes jobs and never answers (they stay processing).
/// (`number` only labels it: CAF 0.17 binds a null reference when it spawns
/// a behaviour function without arguments, which UBSan reports.)
caf::behavior silent_worker(caf::event_based_actor*, std::uint32_t) {
  return {[](process_atom, const json&, std::uint32_t) {}, [](heartbeat_atom) {}};
}

struct fixture : test::deterministic_system {
  base::manual_clock wall;
  std::shared_ptr<fake_db> db = std::make_shared<fake_db>();
  std::shared_ptr<fake_port> port = std::make_shared<fake_port>();
  std::shared_ptr<jobs_config> jc = std::make_shared<jobs_config>();
  caf::actor queue;

  fixture() {
    port->db = db;
    port->writer = sys.spawn(fake_writer, db);
    jc->self_heal_every = std::chrono::milliseconds{0};
  }

  ~fixture() {
    caf::anon_send_exit(queue, caf::exit_reason::kill);
    caf::anon_send_exit(port->writer, caf::exit_reason::kill);
    sched.run();
  }

  /// A new incarnation of the queue (the previous one killed).
  void start() {
    if (queue)
      caf::anon_send_exit(queue, caf::exit_reason::kill);
    queue_config c;
    c.jobs = jc;
    c.store = port;
    c.dir = std::make_shared<supervision::directory>(wall);
    c.clock = &wall;
    c.lists_on_scheduler = true;
    queue = sys.spawn(queue_actor, c);
    sched.run();
  }

  /// Moves both clocks, fires what falls due.
  void advance(std::chrono::milliseconds d) {
    wall.advance(d);
    sched.advance_time(d);
    sched.run();
  }

  json body(const std::string& input = "Summarise this text.") {
    return {{"email", "client@example.com"}, {"task_type", "summarize"}, {"input", input}};
  }

  /// Sends a submission; the answer comes with `answer` (after a run).
  caf::response_handle<caf::blocking_actor, caf::message, true> send_submit(json b, std::string key = {}) {
    return self->request(queue, caf::infinite, submit_atom::value, std::move(b), std::move(key));
  }

  /// The answer, or request_timeout if none came once everything ran (on
  /// the test coordinator nothing more would come).
  caf::expected<json> answer(caf::response_handle<caf::blocking_actor, caf::message, true>& rh) {
    sched.run();
    caf::expected<json> out = caf::make_error(caf::sec::request_timeout);
    if (self->mailbox().empty())
      return out;
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  caf::expected<json> submit(json b, std::string key = {}) {
    auto rh = send_submit(std::move(b), std::move(key));
    return answer(rh);
  }

  std::size_t jobs_stored() {
    return db->tables["jobs"].size();
  }
};

errc code_of(const caf::error& e) {
  REQUIRE(e.category() == error_category);
  return static_cast<errc>(e.code());
}

} // namespace

TEST_CASE("admission: beyond jobs.max_queued or max_queued_bytes a submission is overloaded, nothing stored") {
  fixture f;
  f.jc->max_queued = 3;
  f.jc->max_queued_bytes = 1'000;
  f.start();
  for (int i = 0; i < 3; ++i)
    REQUIRE(f.submit(f.body()));
  auto r = f.submit(f.body());
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == errc::overloaded);
  CHECK(status_of(errc::overloaded) == 503);
  CHECK(message_of(r.error()).find("jobs.max_queued") != std::string::npos);
  CHECK(f.jobs_stored() == 3);
  // A job a worker takes no longer waits: there is room for one more.
  auto worker = f.sys.spawn(silent_worker, std::uint32_t{1});
  caf::anon_send(f.queue, ready_atom::value, worker, std::uint32_t{1});
  f.sched.run();
  REQUIRE(f.submit(f.body()));
  CHECK(f.jobs_stored() == 4);
  // Bytes: the inputs of the jobs the queue holds stay under the bound.
  f.jc->max_queued = 100;
  r = f.submit(f.body(std::string(1'000, 'x')));
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == errc::overloaded);
  CHECK(message_of(r.error()).find("jobs.max_queued_bytes") != std::string::npos);
  CHECK(f.jobs_stored() == 4);
  caf::anon_send_exit(worker, caf::exit_reason::kill);
}

TEST_CASE("Idempotency-Key: in flight is 409, another body 422, a retry answers the first job") {
  fixture f;
  f.start();
  f.db->hold = true; // the first request's commit has not returned yet
  auto first = f.send_submit(f.body(), "key-1");
  f.sched.run();
  auto again = f.submit(f.body(), "key-1");
  REQUIRE_FALSE(again);
  CHECK(code_of(again.error()) == errc::conflict);
  CHECK(message_of(again.error()).find("Idempotency-Key") != std::string::npos);
  auto other = f.submit(f.body("Another text."), "key-1");
  REQUIRE_FALSE(other);
  CHECK(code_of(other.error()) == errc::rule_violation);
  caf::anon_send(f.port->writer, release_atom::value);
  auto created = f.answer(first);
  REQUIRE(created);
  CHECK((*created)["replayed"] == false);
  auto id = (*created)["job"]["id"].get<std::string>();
  // The key was stored with the job, in the same write request.
  bool together = false;
  for (auto& req : f.db->requests) {
    bool has_job = false, has_key = false;
    for (auto& o : req) {
      has_job = has_job || (o.name == "jobs" && o.key == id);
      has_key = has_key || (o.name == "job_keys" && o.key == "key-1" && o.value["job"] == id);
    }
    together = together || (has_job && has_key);
  }
  CHECK(together);
  // A retry (the same body, written differently) answers the same job.
  json reordered = {{"input", "Summarise this text."}, {"task_type", "summarize"},
                    {"email", "client@example.com"}};
  auto retry = f.submit(reordered, "key-1");
  REQUIRE(retry);
  CHECK((*retry)["replayed"] == true);
  CHECK((*retry)["job"]["id"] == id);
  other = f.submit(f.body("Another text."), "key-1");
  REQUIRE_FALSE(other);
  CHECK(code_of(other.error()) == errc::rule_violation);
  CHECK(f.jobs_stored() == 1);
  // A new incarnation (restart, or kill -9 of the node) reads the key back.
  f.start();
  retry = f.submit(f.body(), "key-1");
  REQUIRE(retry);
  CHECK((*retry)["replayed"] == true);
  CHECK((*retry)["job"]["id"] == id);
  CHECK(f.jobs_stored() == 1);
  // Without a key, or with another key, the same body is a new job.
  REQUIRE(f.submit(f.body()));
  REQUIRE(f.submit(f.body(), "key-2"));
  CHECK(f.jobs_stored() == 3);
  // An invalid body stores nothing, not even its key.
  auto invalid = f.submit(json{{"email", "nobody"}}, "key-3");
  REQUIRE_FALSE(invalid);
  CHECK(f.db->tables["job_keys"].count("key-3") == 0);
  CHECK(f.port->counts()["idempotency_keys"] == 2);
}

TEST_CASE("Idempotency-Key: keys expire after the TTL, and the oldest go beyond the cap") {
  fixture f;
  f.jc->idempotency_ttl = std::chrono::milliseconds{60'000};
  f.jc->idempotency_max_keys = 3;
  f.start();
  auto first = f.submit(f.body(), "old");
  REQUIRE(first);
  f.advance(std::chrono::milliseconds{30'000});
  for (auto k : {"k1", "k2", "k3"}) {
    REQUIRE(f.submit(f.body(), k));
    f.advance(std::chrono::milliseconds{10});
  }
  // Four keys, a cap of three: the upkeep's sweep drops the oldest.
  f.advance(std::chrono::milliseconds{5'000});
  auto& keys = f.db->tables["job_keys"];
  CHECK(keys.size() == 3);
  CHECK(keys.count("old") == 0);
  CHECK(f.port->counts()["idempotency_keys"] == 3);
  // After the TTL every key is gone; a request with an expired key is new.
  f.advance(std::chrono::milliseconds{60'000});
  CHECK(keys.empty());
  CHECK(f.port->counts()["idempotency_keys"] == 0);
  auto again = f.submit(f.body(), "k1");
  REQUIRE(again);
  CHECK((*again)["replayed"] == false);
  CHECK(f.jobs_stored() == 5);
}

TEST_CASE("a list is read outside the queue: the queue reads no record, at most 2 lists at once") {
  fixture f;
  f.start();
  for (int i = 0; i < 50; ++i) {
    REQUIRE(f.submit(f.body("Job " + std::to_string(i))));
    f.advance(std::chrono::milliseconds{1});
  }
  f.db->records_scanned = 0;
  std::vector<caf::response_handle<caf::blocking_actor, caf::message, true>> lists;
  for (int i = 0; i < 5; ++i)
    lists.push_back(f.self->request(f.queue, caf::infinite, list_atom::value,
                                    json{{"status", "completed"}, {"limit", 10}}));
  // The queue takes the five requests: it hands two to readers (spawned,
  // not run yet) and refuses the other three; it scans nothing itself.
  f.sched.run_once();
  CHECK(f.db->records_scanned == 0);
  f.sched.run();
  int answered = 0, refused = 0;
  for (auto& rh : lists) {
    REQUIRE_FALSE(f.self->mailbox().empty());
    rh.receive(
      [&](json& page) {
        ++answered;
        CHECK(page["jobs"].empty()); // none completed: no worker ran
        CHECK(page["counts"]["queued"] == 50);
      },
      [&](caf::error& e) {
        ++refused;
        CHECK(code_of(e) == errc::overloaded);
      });
  }
  CHECK(answered == 2);
  CHECK(refused == 3);
  CHECK(f.db->records_scanned == 2 * 50);
  // Readers end after their list: the next list is served.
  auto page = f.self->request(f.queue, caf::infinite, list_atom::value, json{{"limit", 2}});
  f.sched.run();
  REQUIRE_FALSE(f.self->mailbox().empty());
  page.receive([&](json& p) { CHECK(p["jobs"].size() == 2); },
               [&](caf::error& e) { FAIL("list refused: " << to_string(e)); });
}

TEST_CASE("a submission whose write fails stores nothing, counts nothing, and the queue goes on") {
  fixture f;
  f.start();
  REQUIRE(f.submit(f.body(), "a"));
  auto counts = f.port->counts();
  f.db->fail = true;
  auto r = f.submit(f.body("Not stored."), "b");
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == errc::storage_failure);
  f.db->fail = false;
  // The same incarnation answers, with the counts of what is stored.
  auto page = f.self->request(f.queue, caf::infinite, list_atom::value, json{{"limit", 5}});
  f.sched.run();
  REQUIRE_FALSE(f.self->mailbox().empty());
  page.receive([&](json& p) { CHECK(p["counts"]["queued"] == 1); },
               [&](caf::error& e) { FAIL("list refused: " << to_string(e)); });
  // The key of the failed request was not stored: its retry creates the job.
  auto retry = f.submit(f.body("Not stored."), "b");
  REQUIRE(retry);
  CHECK((*retry)["replayed"] == false);
  CHECK(f.jobs_stored() == 2);
  CHECK(f.port->counts()["idempotency_keys"] == 2);
  CHECK(f.port->counts()["queued"] == 2);
  CHECK(counts["queued"] == 1);
}

TEST_CASE("a job's final state is answered once it is durable, never before") {
  fixture f;
  f.start();
  auto created = f.submit(f.body());
  REQUIRE(created);
  auto id = (*created)["job"]["id"].get<std::string>();
  auto worker = f.sys.spawn(silent_worker, std::uint32_t{1});
  caf::anon_send(f.queue, ready_atom::value, worker, std::uint32_t{1});
  f.sched.run();
  REQUIRE(f.db->tables["jobs"][id]["status"] == "processing");
  // The attempt fails for good while the store holds its commit.
  f.db->hold = true;
  caf::anon_send(f.queue, done_atom::value, id, std::uint32_t{1},
                 json{{"ok", false}, {"retryable", false},
                      {"error", {{"code", "model_auth_failed"}, {"message", "the key was refused"}}}});
  f.sched.run();
  REQUIRE(f.db->held.size() == 1);
  auto rh = f.self->request(f.queue, caf::infinite, get_atom::value, id);
  auto early = f.answer(rh);
  // Seen before: "failed" answered while the store still said "processing"
  // (a kill -9 then would have undone what a client had read).
  REQUIRE_FALSE(early);
  CHECK(early.error() == caf::sec::request_timeout); // no answer yet
  caf::anon_send(f.port->writer, release_atom::value);
  f.sched.run();
  CHECK(f.db->tables["jobs"][id]["status"] == "failed");
  json got;
  rh.receive([&](json& x) { got = std::move(x); }, [](caf::error&) {});
  CHECK(got["status"] == "failed");
  // Once durable, answered at once.
  auto again = f.self->request(f.queue, caf::infinite, get_atom::value, id);
  auto now = f.answer(again);
  REQUIRE(now);
  CHECK((*now)["status"] == "failed");
  caf::anon_send_exit(worker, caf::exit_reason::kill);
}

// -- retention (issue 15)
TEST_CASE("retention erases the results of jobs final for longer than jobs.result_retention_days, only theirs") {
  using namespace std::chrono_literals;
  fixture f;
  f.jc->result_retention_days = 30;
  f.start();
  std::vector<std::string> ids;
  std::vector<caf::actor> workers;
  for (int i = 0; i < 3; ++i) {
    auto created = f.submit(f.body("Text number " + std::to_string(i) + "."));
    REQUIRE(created);
    ids.push_back((*created)["job"]["id"].get<std::string>());
    workers.push_back(f.sys.spawn(silent_worker, std::uint32_t(i + 1)));
    caf::anon_send(f.queue, ready_atom::value, workers.back(), std::uint32_t(i + 1));
  }
  f.sched.run();
  auto a = ids[0], c = ids[1], e = ids[2];
  // a passes QA (completed); c and e score below it and wait for a person.
  auto done = [&](const std::string& id, int score) {
    caf::anon_send(f.queue, done_atom::value, id, std::uint32_t{1},
                   json{{"ok", true}, {"processor", "local"}, {"model", "local"},
                        {"result", "The full result of " + id + "."}, {"duration_us", 1'000},
                        {"qa_score", score}, {"qa_by", "local"}});
    f.sched.run();
  };
  done(a, 99);
  done(c, 10);
  done(e, 10);
  REQUIRE(f.db->tables["jobs"][a]["status"] == "completed");
  REQUIRE(f.db->tables["jobs"][c]["status"] == "waiting_human");
  REQUIRE(f.db->tables[results_table].size() == 3);
  auto ask = [&](auto... xs) {
    auto rh = f.self->request(f.queue, caf::infinite, xs...);
    return f.answer(rh);
  };
  // Day 20: c is approved (final from then on); e still waits.
  f.advance(20 * 24h);
  REQUIRE(ask(approve_atom::value, c, json::object()));
  // Day 35: a has been final for 35 days, c for 15.
  f.advance(15 * 24h);
  auto run = ask(retention_atom::value);
  REQUIRE(run);
  CHECK((*run)["retention_days"] == 30);
  CHECK((*run)["erased"] == 1);
  CHECK((*run)["ids"] == json::array({a}));
  CHECK((*run)["kept"]["recent"] == 1);
  CHECK((*run)["kept"]["not_final"] == 1);
  CHECK((*run)["more"] == false);
  CHECK(f.db->tables[results_table].count(a) == 0);
  CHECK(f.db->tables[results_table].count(c) == 1);
  CHECK(f.db->tables[results_table].count(e) == 1);
  auto record = f.db->tables["jobs"][a];
  CHECK(record["status"] == "completed");
  CHECK(record["result_summary"] == "");
  CHECK(record["price_micros"].get<std::int64_t>() > 0); // the record stays
  CHECK(record["result_erased_ms"].is_number_integer());
  auto got = ask(get_atom::value, a);
  REQUIRE(got);
  CHECK((*got)["result"] == "");
  CHECK((*got)["result_erased_at"].is_string());
  auto full = ask(result_atom::value, a);
  REQUIRE(full);
  CHECK((*full)["result"].is_null());
  bool evented = false;
  for (auto& req : f.db->requests)
    for (auto& o : req)
      evented = evented || (o.what == op::kind::append && o.value.value("event", "") == "result_erased"
                            && o.value.value("job", "") == a && o.value.value("by", "") == "retention");
  CHECK(evented);
  // A second run finds nothing more to erase.
  run = ask(retention_atom::value);
  REQUIRE(run);
  CHECK((*run)["erased"] == 0);

  // On request: a payment change written meanwhile builds on the erased
  // state (it must not write the result back).
  f.db->hold = true;
  auto erase_rh = f.self->request(f.queue, caf::infinite, erase_atom::value, c);
  auto pay_rh = f.self->request(f.queue, caf::infinite, payment_atom::value, c, std::string{"paid"},
                                json::object());
  f.sched.run();
  caf::anon_send(f.port->writer, release_atom::value);
  auto erased = f.answer(erase_rh);
  REQUIRE(erased);
  CHECK((*erased)["erased"] == true);
  REQUIRE(f.answer(pay_rh));
  CHECK(f.db->tables["jobs"][c]["payment_status"] == "paid");
  CHECK(f.db->tables["jobs"][c]["result_summary"] == "");
  CHECK(f.db->tables["jobs"][c]["result_erased_ms"].is_number_integer());
  CHECK(f.db->tables[results_table].count(c) == 0);
  erased = ask(erase_atom::value, c);
  REQUIRE(erased);
  CHECK((*erased)["erased"] == false);
  // A job a person is to review keeps its result; an unknown one is 404.
  auto refused = ask(erase_atom::value, e);
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == errc::conflict);
  CHECK(message_of(refused.error()).find("waiting_human") != std::string::npos);
  refused = ask(erase_atom::value, std::string{"j000000000000-000000"});
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == errc::not_found);
  // 0 days: nothing is erased, and the answer says why.
  f.jc->result_retention_days = 0;
  run = ask(retention_atom::value);
  REQUIRE(run);
  CHECK((*run)["erased"] == 0);
  CHECK((*run)["note"].get<std::string>().find("result_retention_days is 0") != std::string::npos);
  CHECK(f.db->tables[results_table].count(e) == 1);
  for (auto& w : workers)
    caf::anon_send_exit(w, caf::exit_reason::kill);
}
