// Self-heal's verdict on a failed job (issue 15): requeue within
// jobs.max_heals, dead-letter an error that cannot heal or a job past its
// heals, leave a person's rejection and a deadline; and the job record's
// heals and dead_reason, also read from a job stored before them.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "actors/jobs/queue_state.hpp"

using namespace echopilot::jobs;
using nlohmann::json;

namespace {

job failed_with(json error, std::uint32_t heals = 0) {
  job j;
  j.id = "j000000000001-000001";
  j.status = failed;
  j.last_error = std::move(error);
  j.heals = heals;
  return j;
}

} // namespace

TEST_CASE("cannot_heal: the outcome's retryable false, or the codes of a refused key or input") {
  CHECK(cannot_heal({{"code", "model_unavailable"}, {"retryable", false}}));
  CHECK_FALSE(cannot_heal({{"code", "model_unavailable"}, {"retryable", true}}));
  CHECK_FALSE(cannot_heal({{"code", "qa_below_threshold"}}));
  // Stored before the flag existed.
  CHECK(cannot_heal({{"code", "model_auth_failed"}}));
  CHECK(cannot_heal({{"code", "model_rejected"}}));
  CHECK_FALSE(cannot_heal(nullptr));
  CHECK_FALSE(cannot_heal("text"));
}

TEST_CASE("heal_verdict_of: requeue within max_heals, then the dead letter with the reason; decisions are left") {
  jobs_config jc;
  jc.max_heals = 2;
  json qa = {{"code", "qa_below_threshold"}, {"message", "QA scored 10, below the threshold 90"}};
  CHECK(heal_verdict_of(failed_with(qa, 0), jc).what == heal_verdict::requeue);
  CHECK(heal_verdict_of(failed_with(qa, 1), jc).what == heal_verdict::requeue);
  auto v = heal_verdict_of(failed_with(qa, 2), jc);
  CHECK(v.what == heal_verdict::dead_letter);
  CHECK(v.reason.find("2 time(s) (jobs.max_heals 2)") != std::string::npos);
  CHECK(v.reason.find("QA scored 10") != std::string::npos);
  // An error a rerun alone cannot heal (401) gets the same bounded heals.
  json refused = {{"code", "model_auth_failed"}, {"message", "HTTP 401"}, {"retryable", false}};
  CHECK(heal_verdict_of(failed_with(refused, 0), jc).what == heal_verdict::requeue);
  CHECK(heal_verdict_of(failed_with(refused, 1), jc).what == heal_verdict::requeue);
  v = heal_verdict_of(failed_with(refused, 2), jc);
  CHECK(v.what == heal_verdict::dead_letter);
  CHECK(v.reason.find("cannot heal") != std::string::npos);
  CHECK(v.reason.find("model_auth_failed: HTTP 401") != std::string::npos);
  CHECK(heal_verdict_of(failed_with({{"code", "rejected"}}), jc).what == heal_verdict::leave);
  CHECK(heal_verdict_of(failed_with({{"code", "deadline_exceeded"}}), jc).what == heal_verdict::leave);
  jc.max_heals = 0; // never requeued: the dead letter at once
  CHECK(heal_verdict_of(failed_with(qa, 0), jc).what == heal_verdict::dead_letter);
}

TEST_CASE("heals and dead_reason round-trip; a job stored before them reads with 0 and null") {
  auto j = failed_with({{"code", "x"}}, 3);
  j.email = "a@b.com";
  j.task_type = "other";
  j.input = "in";
  j.dead_reason = "because";
  auto stored = to_json(j);
  CHECK(stored["heals"] == 3);
  CHECK(stored["dead_reason"] == "because");
  auto back = job_from_json(stored);
  REQUIRE(back);
  CHECK(back->heals == 3);
  CHECK(back->dead_reason == "because");
  stored.erase("heals");
  stored.erase("dead_reason");
  back = job_from_json(stored);
  REQUIRE(back);
  CHECK(back->heals == 0);
  CHECK(back->dead_reason.empty());
  CHECK(to_json(job{})["dead_reason"].is_null());
}
