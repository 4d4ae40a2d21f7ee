// Tables: records, secondary indexes kept with the record, time ranges as
// cursor ranges, typed records, and requests refused alone.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <lmdb.h>

#include "persistence/errors.hpp"
#include "persistence/table.hpp"
#include "tests/persistence/support.hpp"

using namespace persistence;
using nlohmann::json;

namespace {

using keys = std::vector<std::string>;

/// An example record type.
struct job {
  std::string status;
  std::int64_t created_ms = 0;
  std::vector<std::string> tags;
};

void to_json(json& j, const job& x) {
  j = {{"status", x.status}, {"created_ms", x.created_ms}, {"tags", x.tags}};
}

void from_json(const json& j, job& x) {
  j.at("status").get_to(x.status);
  j.at("created_ms").get_to(x.created_ms);
  x.tags = j.value("tags", std::vector<std::string>{});
}

} // namespace

TEST_CASE("secondary indexes follow puts and deletes in the same transaction") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  REQUIRE(ptest::write(b.sys, w,
                       {op::put("jobs", "j1", {{"status", "queued"}, {"created_ms", 1000}}),
                        op::put("jobs", "j2", {{"status", "queued"}, {"created_ms", 2000}}),
                        op::put("jobs", "j3", {{"status", "done"}, {"created_ms", 3000}})}));
  CHECK(ptest::must(env->lookup("jobs", "by_status", "queued")) == keys{"j1", "j2"});
  // An update moves the entry; the stale one is gone.
  REQUIRE(ptest::write(b.sys, w, {op::put("jobs", "j1", {{"status", "done"}, {"created_ms", 1000}})}));
  CHECK(ptest::must(env->lookup("jobs", "by_status", "queued")) == keys{"j2"});
  CHECK(ptest::must(env->lookup("jobs", "by_status", "done")) == keys{"j1", "j3"});
  // A record without the field has no entry.
  REQUIRE(ptest::write(b.sys, w, {op::put("jobs", "j2", {{"created_ms", 2000}})}));
  CHECK(ptest::must(env->lookup("jobs", "by_status", "queued")).empty());
  REQUIRE(ptest::write(b.sys, w, {op::del("jobs", "j3"), op::del("jobs", "never-there")}));
  CHECK(ptest::must(env->lookup("jobs", "by_status", "done")) == keys{"j1"});
  CHECK_FALSE(ptest::must(env->get("jobs", "j3")));
  CHECK(json::parse(*ptest::must(env->get("jobs", "j2")))["created_ms"] == 2000);
  // Index entries and records agree.
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env->raw(), nullptr, MDB_RDONLY, &txn) == 0);
  MDB_dbi dbi = 0;
  REQUIRE(mdb_dbi_open(txn, "i:jobs:by_status", 0, &dbi) == 0);
  MDB_stat st{};
  mdb_stat(txn, dbi, &st);
  CHECK(st.ms_entries == 1);
  mdb_txn_abort(txn);
  // Prefix scans over keys.
  keys found;
  env->scan("jobs", "j", "j9", 10, [&](std::string_view k, std::string_view) {
    found.emplace_back(k);
    return true;
  });
  CHECK(found == keys{"j1", "j2"});
  // The same range backwards, and a range that stops at its lower bound.
  found.clear();
  REQUIRE(ptest::write(b.sys, w, {op::put("jobs", "j3", {{"created_ms", 3000}}),
                                  op::put("jobs", "k1", {{"created_ms", 4000}})}));
  env->scan_back("jobs", "j2", "k", 10, [&](std::string_view k, std::string_view) {
    found.emplace_back(k);
    return true;
  });
  CHECK(found == keys{"j3", "j2"});
  found.clear();
  env->scan_back("jobs", {}, {}, 2, [&](std::string_view k, std::string_view) {
    found.emplace_back(k);
    return true;
  });
  CHECK(found == keys{"k1", "j3"});
  ptest::stop(b.sys, w);
}

TEST_CASE("records between two times are one cursor range over the time index") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  write_request req;
  for (int i = 0; i < 50; ++i) // keys in reverse time order
    req.push_back(op::put("jobs", "k" + std::to_string(100 - i), {{"created_ms", 1'700'000'000'000 + i * 1000}}));
  REQUIRE(ptest::write(b.sys, w, req));
  keys in_range;
  env->scan_time("jobs", "by_time", 1'700'000'010'000, 1'700'000'015'000, SIZE_MAX,
                 [&](std::string_view k, std::string_view v) {
                   CHECK(json::parse(v).contains("created_ms"));
                   in_range.emplace_back(k);
                   return true;
                 });
  CHECK(in_range == keys{"k90", "k89", "k88", "k87", "k86"}); // oldest first, to excluded
  CHECK(ptest::must(env->lookup("jobs", "by_time", time_key(1'700'000'048'000), time_key(INT64_MAX)))
        == keys{"k52", "k51"});
  int n = 0;
  env->scan_time("jobs", "by_time", 0, INT64_MAX, 3, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  CHECK(n == 3);
  CHECK(time_key(5) == "0000000000000005");
  ptest::stop(b.sys, w);
}

TEST_CASE("typed records through table<T>") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  table<job> jobs{"jobs"};
  REQUIRE(ptest::write(b.sys, w, {jobs.put("a", {"queued", 10, {"x"}}), jobs.put("b", {"running", 20, {}}),
                                  jobs.put("c", {"queued", 30, {}})}));
  auto a = ptest::must(jobs.get(*env, "a"));
  REQUIRE(a);
  CHECK(a->status == "queued");
  CHECK(a->tags == keys{"x"});
  auto queued = ptest::must(jobs.find(*env, "by_status", "queued"));
  REQUIRE(queued.size() == 2);
  CHECK(queued[0].first == "a");
  CHECK(queued[1].second.created_ms == 30);
  auto mid = ptest::must(jobs.between(*env, "by_time", 15, 31));
  REQUIRE(mid.size() == 2);
  CHECK(mid[0].first == "b");
  CHECK(ptest::must(jobs.scan(*env)).size() == 3);
  // A record that does not decode as job is skipped, not a crash.
  REQUIRE(ptest::write(b.sys, w, {op::put("jobs", "broken", {{"status", 5}})}));
  CHECK_FALSE(ptest::must(jobs.get(*env, "broken")));
  CHECK(ptest::must(jobs.scan(*env)).size() == 3);
  REQUIRE(ptest::write(b.sys, w, {jobs.del("a")}));
  CHECK_FALSE(ptest::must(jobs.get(*env, "a")));
  ptest::stop(b.sys, w);
}

TEST_CASE("a malformed request is refused alone, before the transaction") {
  ptest::temp_dir d;
  auto env = ptest::open_store(d.path);
  ptest::system_bed b;
  auto w = spawn_writer(b.sys, env, base::default_clock());
  auto refused = [&](write_request req) {
    auto r = ptest::write(b.sys, w, std::move(req));
    if (r)
      return std::string{"accepted"};
    CHECK(r.error() == errc::invalid_request);
    return error_message(r.error());
  };
  CHECK(refused({op::put("nope", "k", 1)}) == "no table 'nope'");
  CHECK(refused({op::put("records", "", 1)}) == "a key has 1 to 480 bytes");
  CHECK(refused({op::put("records", std::string(481, 'k'), 1)}) == "a key has 1 to 480 bytes");
  CHECK(refused({op::put("jobs", std::string(400, 'k'), {{"status", std::string(200, 's')}})})
        == "index 'by_status': index key and key exceed 511 bytes");
  CHECK(refused({op::put("jobs", "k", {{"status", std::string("a\0b", 3)}})})
        == "index 'by_status': an index key holds a NUL byte");
  CHECK(refused({op::append("Bad Name", {{"a", 1}})})
        == "'Bad Name' is not a stream name (1-64 of a-z 0-9 . _ -)");
  CHECK(refused({op::append("s", json::array())}) == "an event must be a JSON object");
  CHECK(refused({op::append("s", {{"seq", 1}})}) == "an event's \"seq\" and \"ts\" are set by the store");
  CHECK(refused({}) == "a write request needs at least one change");
  // All or nothing within one request: a good change next to a bad one is
  // not applied either.
  CHECK(refused({op::put("records", "good", 1), op::put("nope", "k", 1)}) == "no table 'nope'");
  CHECK_FALSE(ptest::must(env->get("records", "good")));
  CHECK(refused_total() >= 10);
  CHECK(ptest::write(b.sys, w, {op::put("records", "k", 1)}));
  CHECK(ptest::must(env->get("records", "k")) == std::string{"1"});
  ptest::stop(b.sys, w);
}
