#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/jobs/jobs_actors.hpp"
#include "connectors/openai.hpp"
#include "supervision/directory.hpp"

namespace echopilot::jobs {

using nlohmann::json;
using namespace std::chrono;

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

enum stage : std::uint32_t { processing_stage = 0, qa_stage = 1 };

struct state {
  worker_config cfg;
  std::uint32_t number = 0;
  /// The job in hand and its attempt; `tag` tells late answers from a
  /// model call of an earlier job apart.
  std::optional<job> current;
  std::uint32_t attempt = 0;
  std::uint64_t tag = 0;
  json outcome;
  steady_clock::time_point started;
};

using state_ptr = std::shared_ptr<state>;

json result_json(const connectors::chat_result& r) {
  return {{"ok", r.ok},
          {"content", r.content},
          {"model", r.model},
          {"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"status", r.status},
          {"error_code", r.error_code},
          {"error_message", r.error_message},
          {"retryable", r.retryable},
          {"tries", r.tries}};
}

/// Sends the outcome of the current job to the queue, then reports idle.
void report(caf::event_based_actor* self, const state_ptr& st) {
  auto queue = st->cfg.dir->resolve(queue_id);
  if (queue && st->current)
    self->send(*queue, done_atom::value, st->current->id, st->attempt, std::move(st->outcome));
  // Without a queue (it is restarting) the outcome is dropped: the new
  // incarnation put the job back when it started.
  st->current.reset();
  st->outcome = nullptr;
  ++st->tag;
  if (queue)
    self->send(*queue, ready_atom::value, caf::actor{self}, st->number);
}

void heartbeat(caf::event_based_actor* self, const state_ptr& st) {
  if (auto queue = st->cfg.dir->resolve(queue_id))
    self->send(*queue, heartbeat_atom::value, caf::actor{self}, st->number,
               st->current ? st->current->id : std::string{});
}

void call_model(caf::event_based_actor* self, const state_ptr& st, stage which,
                connectors::chat_request req) {
  auto tag = st->tag;
  st->cfg.model->chat(std::move(req), [handle = caf::actor{self}, tag, which](connectors::chat_result r) {
    caf::anon_send(handle, chat_atom::value, tag, static_cast<std::uint32_t>(which), result_json(r));
  });
}

/// The processing step produced `text`: score it.
void score(caf::event_based_actor* self, const state_ptr& st) {
  auto& jc = *st->cfg.jobs;
  auto& o = st->outcome;
  if (!st->cfg.model) {
    o["qa_score"] = local_score(st->current->input, o["result"].get_ref<const std::string&>());
    o["qa_by"] = "local";
    report(self, st);
    return;
  }
  connectors::chat_request req;
  req.model = jc.qa_model;
  req.temperature = jc.qa_temperature;
  req.max_tokens = 100;
  req.messages = {{"system", qa_system_prompt()},
                  {"user", qa_user_prompt(*st->current, o["result"].get_ref<const std::string&>())}};
  call_model(self, st, qa_stage, std::move(req));
}

void start(caf::event_based_actor* self, const state_ptr& st) {
  auto& jc = *st->cfg.jobs;
  st->started = steady_clock::now();
  if (!st->cfg.model) {
    auto out = local_process(*st->current);
    st->outcome = {{"ok", true},
                   {"processor", "local"},
                   {"model", "local"},
                   {"result", std::move(out.text)},
                   {"tokens_in", out.tokens_in},
                   {"tokens_out", out.tokens_out},
                   {"duration_us",
                    duration_cast<microseconds>(steady_clock::now() - st->started).count()}};
    score(self, st);
    return;
  }
  connectors::chat_request req;
  req.model = jc.model;
  req.temperature = jc.temperature;
  req.max_tokens = jc.max_tokens;
  req.messages = {{"system", process_system_prompt()}, {"user", st->current->input}};
  call_model(self, st, processing_stage, std::move(req));
}

} // namespace

caf::behavior worker_actor(caf::event_based_actor* self, worker_config cfg, std::uint32_t number) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  st->number = number;
  if (auto queue = st->cfg.dir->resolve(queue_id))
    self->send(*queue, ready_atom::value, caf::actor{self}, number);
  self->send(self, tick_atom::value);
  return {
    [self, st](tick_atom) {
      heartbeat(self, st);
      self->delayed_send(self, st->cfg.jobs->heartbeat, tick_atom::value);
    },
    // A new queue incarnation asks for a heartbeat at once.
    [self, st](heartbeat_atom) { heartbeat(self, st); },
    [self, st](process_atom, json& record, std::uint32_t attempt) {
      auto j = job_from_json(record);
      if (!j || st->current) {
        // Not a job, or one already in hand: refuse it at once.
        auto queue = st->cfg.dir->resolve(queue_id);
        if (queue && j)
          self->send(*queue, done_atom::value, j->id, attempt,
                     json{{"ok", false},
                          {"retryable", true},
                          {"error", {{"code", "worker_busy"},
                                     {"message", "the worker already had a job"}}}});
        return;
      }
      st->current = std::move(*j);
      st->attempt = attempt;
      ++st->tag;
      start(self, st);
    },
    // -- flow (issue 15): the queue cancelled the job in hand (or its
    // deadline passed): its model call's answer is dropped, and the worker
    // is free at once.
    [self, st](cancel_atom, const std::string& id, std::uint32_t attempt) {
      if (!st->current || st->current->id != id || st->attempt != attempt)
        return; // already done with it
      st->current.reset();
      report(self, st);
    },
    [self, st](chat_atom, std::uint64_t tag, std::uint32_t which, json& r) {
      if (tag != st->tag || !st->current)
        return; // an answer for a job this worker no longer has
      if (which == processing_stage) {
        if (!r.value("ok", false)) {
          st->outcome = {{"ok", false},
                         {"retryable", r.value("retryable", true)},
                         {"error", {{"code", r.value("error_code", "model_error")},
                                    {"message", r.value("error_message", "")},
                                    {"tries", r.value("tries", 0)}}}};
          report(self, st);
          return;
        }
        st->outcome = {{"ok", true},
                       {"processor", "openai"},
                       {"model", r.value("model", "").empty() ? st->cfg.jobs->model
                                                              : r.value("model", "")},
                       {"result", r.value("content", "")},
                       {"tokens_in", r.value("prompt_tokens", std::uint64_t{0})},
                       {"tokens_out", r.value("completion_tokens", std::uint64_t{0})},
                       {"duration_us",
                        duration_cast<microseconds>(steady_clock::now() - st->started).count()}};
        score(self, st);
        return;
      }
      auto& o = st->outcome;
      std::optional<int> s;
      if (r.value("ok", false)) {
        s = parse_score(r.value("content", ""));
        o["qa_model"] = st->cfg.jobs->qa_model;
        o["qa_tokens_in"] = r.value("prompt_tokens", std::uint64_t{0});
        o["qa_tokens_out"] = r.value("completion_tokens", std::uint64_t{0});
      }
      if (s) {
        o["qa_score"] = *s;
        o["qa_by"] = "model:" + st->cfg.jobs->qa_model;
      } else {
        o["qa_score"] = local_score(st->current->input, o["result"].get_ref<const std::string&>());
        o["qa_by"] = "local";
        o["qa_error"] = r.value("ok", false) ? std::string{"the answer held no score"}
                                             : r.value("error_message", std::string{"failed"});
      }
      report(self, st);
    },
  };
}

} // namespace echopilot::jobs
