#include "supervision/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <random>
#include <unordered_map>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "supervision/errors.hpp"
#include "supervision/protocol.hpp"

namespace supervision {

namespace {

using steady_time = caf::actor_clock::time_point;

/// Children alive at any moment, so that a supervisor that dies without its
/// orderly stop (killed, or a bug) takes its children with it, as Erlang's
/// links would. Shared with an attach_functor of the supervisor.
struct child_guard {
  std::mutex mtx;
  std::unordered_map<caf::actor_addr, caf::actor> alive;

  void add(const caf::actor& h) {
    std::lock_guard<std::mutex> lock{mtx};
    alive.emplace(h.address(), h);
  }

  void remove(const caf::actor_addr& addr) {
    std::lock_guard<std::mutex> lock{mtx};
    alive.erase(addr);
  }

  std::vector<caf::actor> take() {
    std::lock_guard<std::mutex> lock{mtx};
    std::vector<caf::actor> out;
    out.reserve(alive.size());
    for (auto& [addr, h] : alive)
      out.push_back(h);
    alive.clear();
    return out;
  }
};

/// One child as its supervisor sees it.
struct child_record {
  child_spec spec;
  /// Start arguments (pool members); empty for static children.
  caf::message args;
  /// The current incarnation; invalid while not running.
  caf::actor handle;
  child_state state = child_state::stopped;
  /// Incarnations started after the first.
  std::uint64_t restarts = 0;
  /// Restarts since the child last ran for backoff.reset_after: the exponent
  /// of the backoff delay.
  std::uint32_t consecutive = 0;
  /// Start of the current incarnation (actor clock).
  steady_time started{};
  /// Bumped at every start; timers carry it to recognise stale firings.
  std::uint64_t generation = 0;
  /// Bumped whenever a pending one_for_one restart is scheduled or cancelled.
  std::uint64_t restart_token = 0;
  /// A pool member (removed when it ends for good).
  bool dynamic = false;
  /// terminate_child asked for it: do not restart after the stop.
  bool terminating = false;
};

/// A group operation: stop some children (one at a time, in order), then
/// either quit or start some children (in order, after a backoff delay).
struct plan {
  std::uint64_t seq = 0;
  std::deque<std::string> stop;
  std::deque<std::string> start;
  std::optional<caf::error> quit;
  duration delay{0};
  bool delay_armed = false;
  /// The supervisor's own first start: a failed start stops the supervisor
  /// (as in OTP); its completion is reported to the parent.
  bool initial = false;
  /// Children whose start failed during a restart plan; handled after it.
  std::vector<std::pair<std::string, caf::error>> failures;
};

struct supervisor_state;
using supervisor_actor = caf::stateful_actor<supervisor_state>;

struct supervisor_state {
  explicit supervisor_state(supervisor_actor* ptr) : self(ptr) {
  }

  static inline const char* name = "supervisor";

  supervisor_actor* self;
  supervisor_spec spec;
  /// The supervising supervisor, told `child_up_atom` once the initial start
  /// completed; invalid for a root.
  caf::actor parent;
  std::shared_ptr<directory> dir;
  std::shared_ptr<child_guard> guard = std::make_shared<child_guard>();
  /// Children in start order (pool members appended as they come).
  std::vector<child_record> children;
  /// Position of each child in `children` by id, and the id of each running
  /// incarnation by address: lookups cost the same in a pool of 10,000 as
  /// in a supervisor of three.
  std::unordered_map<std::string, std::size_t> by_id;
  std::unordered_map<caf::actor_addr, std::string> by_addr;
  /// Times of recent restarts, oldest first (intensity window).
  std::deque<steady_time> restart_log;
  /// Group operations; the front one runs.
  std::deque<plan> plans;
  std::uint64_t plan_seq = 0;
  /// Exits of children outside the running plan: recorded at once (the
  /// child no longer counts as alive), decided on (restart or not) after it.
  struct pending_exit {
    std::string id;
    /// The incarnation that exited (child_record::generation).
    std::uint64_t generation;
    caf::error reason;
  };
  std::deque<pending_exit> backlog;
  bool shutting_down = false;
  std::uint64_t pool_seq = 0;
  std::mt19937_64 rng;
  /// terminate_child requests waiting for their child to go.
  std::vector<std::pair<std::string, caf::response_promise>> terminate_waiters;

  // -- lookup ----------------------------------------------------------------

  child_record* find(const std::string& id) {
    auto i = by_id.find(id);
    return i == by_id.end() ? nullptr : &children[i->second];
  }

  child_record* find(const caf::actor_addr& addr) {
    auto i = by_addr.find(addr);
    return i == by_addr.end() ? nullptr : find(i->second);
  }

  /// Appends `c` in start order.
  child_record& add_child(child_record c) {
    by_id[c.spec.id] = children.size();
    children.push_back(std::move(c));
    return children.back();
  }

  std::size_t index_of(const child_record& c) const {
    return static_cast<std::size_t>(&c - children.data());
  }

  /// Children starting or stopping: a running plan waits while any is.
  std::size_t in_transition = 0;

  static bool transitional(child_state x) {
    return x == child_state::starting || x == child_state::stopping;
  }

  /// Every change of a child's state goes through here (keeps the count).
  void set_state(child_record& c, child_state next) {
    in_transition -= transitional(c.state) ? 1 : 0;
    in_transition += transitional(next) ? 1 : 0;
    c.state = next;
  }

  bool alive(const child_record& c) const {
    return static_cast<bool>(c.handle);
  }

  // -- directory -------------------------------------------------------------

  void publish(const child_record& c) {
    dir->update(c.spec.id, [&](node_status& n) {
      n.state = c.state;
      n.restarts = c.restarts;
      n.handle = c.state == child_state::running || c.state == child_state::starting
                   ? c.handle
                   : caf::actor{};
    });
  }

  void publish_children_list() {
    std::vector<std::string> ids;
    ids.reserve(children.size());
    for (auto& c : children)
      ids.push_back(c.spec.id);
    dir->update(spec.id, [&](node_status& n) {
      n.strategy = spec.flags.strategy;
      n.children = std::move(ids);
    });
  }

  caf::error register_child(const child_record& c) {
    node_status n;
    n.id = c.spec.id;
    n.parent = spec.id;
    n.kind = c.spec.kind;
    n.restart = c.spec.restart;
    n.state = child_state::stopped;
    n.owner = self->address();
    return dir->add(std::move(n));
  }

  // -- start -----------------------------------------------------------------

  /// Starts one incarnation of `c`; false (and `reason` set) if the start
  /// function threw or returned nothing.
  bool start(child_record& c, bool is_restart, caf::error& reason) {
    caf::actor h;
    try {
      h = c.spec.start(self, c.args);
    } catch (const std::exception& e) {
      reason = make_error(errc::start_failed, c.spec.id + ": " + e.what());
    } catch (...) {
      reason = make_error(errc::start_failed, c.spec.id + ": unknown exception");
    }
    if (!h) {
      if (!reason)
        reason = make_error(errc::start_failed, c.spec.id + ": start function returned no actor");
      // A start that failed ran for no time: the backoff keeps growing
      // (measured from the last incarnation that did start, a child whose
      // starts keep failing would restart at once and burn the intensity).
      c.started = self->clock().now();
      set_state(c, child_state::stopped);
      publish(c);
      return false;
    }
    c.handle = h;
    by_addr[h.address()] = c.spec.id;
    // A child supervisor counts as started once its own children are up
    // (it sends child_up_atom); until then the running plan waits for it.
    set_state(c, c.spec.kind == child_kind::supervisor ? child_state::starting
                                                       : child_state::running);
    c.started = self->clock().now();
    ++c.generation;
    if (is_restart)
      ++c.restarts;
    self->monitor(h);
    guard->add(h);
    auto wall = dir->wall_clock().now();
    dir->update(c.spec.id, [&](node_status& n) {
      n.state = c.state;
      n.handle = h;
      n.restarts = c.restarts;
      n.started_at = wall;
      if (is_restart)
        n.last_restart = wall;
    });
    std::weak_ptr<directory> weak_dir = dir;
    auto id = c.spec.id;
    auto addr = h.address();
    caf::actor_cast<caf::abstract_actor*>(h)->attach_functor(
      [weak_dir, id, addr](const caf::error& rsn) {
        if (auto d = weak_dir.lock())
          d->mark_exited(id, addr, rsn);
      });
    return true;
  }

  // -- policy ----------------------------------------------------------------

  bool wants_restart(const child_record& c, const caf::error& reason) const {
    if (c.terminating)
      return false;
    switch (c.spec.restart) {
      case restart_type::permanent:
        return true;
      case restart_type::transient:
        return !is_normal_exit(reason);
      case restart_type::temporary:
        return false;
    }
    return false;
  }

  /// Records a restart at `now`; false if that exceeds the intensity.
  bool admit_restart(steady_time now) {
    auto& in = spec.flags.intensity;
    restart_log.push_back(now);
    while (!restart_log.empty() && restart_log.front() <= now - in.period)
      restart_log.pop_front();
    return restart_log.size() <= in.max_restarts;
  }

  duration next_delay(child_record& c, steady_time now) {
    auto& b = spec.flags.backoff;
    if (c.generation > 0 && now - c.started >= b.reset_after)
      c.consecutive = 0;
    ++c.consecutive;
    std::uniform_real_distribution<double> unit{0.0, 1.0};
    return backoff_delay(b, c.consecutive, unit(rng));
  }

  // -- events ----------------------------------------------------------------

  void on_down(const caf::down_msg& dm) {
    auto* c = find(dm.source);
    if (c == nullptr)
      return; // an earlier incarnation, or a second monitor's message
    if (c->state == child_state::stopping) {
      stopped(*c, dm.reason);
      advance();
      return;
    }
    if (c->state == child_state::starting && !plans.empty()) {
      // A child supervisor the running plan waits for died before it was up.
      if (plans.front().initial) {
        auto reason = make_error(errc::start_failed, c->spec.id + ": " + describe(dm.reason));
        record_exit(*c, dm.reason);
        set_state(*c, child_state::stopped);
        publish(*c);
        shutdown(std::move(reason));
      } else {
        failed(*c, dm.reason);
        advance();
      }
      return;
    }
    if (!plans.empty()) {
      auto& p = plans.front();
      auto i = std::find(p.stop.begin(), p.stop.end(), c->spec.id);
      if (i != p.stop.end()) {
        // Died on its own while waiting to be stopped by the plan: the plan
        // deals with it (as Erlang drains such exits during a group restart).
        p.stop.erase(i);
        stopped(*c, dm.reason);
        advance();
        return;
      }
      // Not part of the plan: the exit is a fact now (a later stop plan must
      // not wait for a down message already consumed, nor kill a dead
      // actor); only the decision to restart waits for the plan to end.
      record_exit(*c, dm.reason);
      set_state(*c, wants_restart(*c, dm.reason) ? child_state::restarting : child_state::stopped);
      publish(*c);
      backlog.push_back({c->spec.id, c->generation, dm.reason});
      return;
    }
    failed(*c, dm.reason);
  }

  /// `c` terminated unexpectedly (or failed to start) with `reason`.
  void failed(child_record& c, const caf::error& reason) {
    record_exit(c, reason);
    decide(c, reason);
  }

  /// The exit of `c` (already recorded) calls for a restart, or not.
  void decide(child_record& c, const caf::error& reason) {
    if (shutting_down) {
      set_state(c, child_state::stopped);
      publish(c);
      return;
    }
    if (!wants_restart(c, reason)) {
      set_state(c, child_state::stopped);
      publish(c);
      ended_for_good(c);
      return;
    }
    auto now = self->clock().now();
    if (!admit_restart(now)) {
      auto& in = spec.flags.intensity;
      shutdown(make_error(errc::max_restart_intensity,
                          "'" + spec.id + "' exceeded " + std::to_string(in.max_restarts)
                            + " restarts in " + std::to_string(in.period.count())
                            + " ms; last failure: '" + c.spec.id + "' " + describe(reason)));
      return;
    }
    auto delay = next_delay(c, now);
    switch (spec.flags.strategy) {
      case strategy::one_for_one:
      case strategy::simple_one_for_one:
        set_state(c, child_state::restarting);
        publish(c);
        schedule_restart(c, delay);
        return;
      case strategy::one_for_all:
        group_restart(c, 0, delay);
        return;
      case strategy::rest_for_one:
        group_restart(c, index_of(c), delay);
        return;
    }
  }

  void record_exit(child_record& c, const caf::error& reason) {
    if (c.handle) {
      guard->remove(c.handle.address());
      by_addr.erase(c.handle.address());
    }
    c.handle = nullptr;
    auto text = describe(reason);
    dir->update(c.spec.id, [&](node_status& n) { n.last_exit = text; });
  }

  void schedule_restart(child_record& c, duration delay) {
    auto token = ++c.restart_token;
    if (delay.count() == 0) {
      restart_now(c);
      return;
    }
    self->delayed_send(self, delay, restart_timer_atom::value, c.spec.id, token);
  }

  void restart_now(child_record& c) {
    caf::error reason;
    if (!start(c, true, reason))
      failed(c, reason);
  }

  /// Stops the running children from index `first` on (except `c`) in reverse
  /// start order, then starts `c` and every other child of that range that
  /// was running, in start order.
  void group_restart(child_record& c, std::size_t first, duration delay) {
    plan p;
    p.seq = ++plan_seq;
    p.delay = delay;
    for (auto i = children.size(); i-- > first;) {
      auto& other = children[i];
      // Temporary children are stopped too, but not started again.
      if (&other != &c && alive(other))
        p.stop.push_back(other.spec.id);
    }
    for (auto i = first; i < children.size(); ++i) {
      auto& other = children[i];
      bool restart_it = &other == &c
                        || (alive(other) && other.spec.restart != restart_type::temporary);
      if (restart_it)
        p.start.push_back(other.spec.id);
    }
    for (auto& id : p.start)
      if (auto* x = find(id); x != nullptr && !alive(*x)) {
        set_state(*x, child_state::restarting);
        publish(*x);
      }
    plans.push_back(std::move(p));
    if (plans.size() == 1)
      advance();
  }

  /// Stops every child in reverse start order, then quits with `reason`.
  /// Pending plans and restarts are dropped.
  void shutdown(caf::error reason) {
    if (shutting_down && !plans.empty() && plans.front().quit)
      return; // already on the way out
    shutting_down = true;
    plan p;
    p.seq = ++plan_seq;
    p.quit = std::move(reason);
    for (auto i = children.size(); i-- > 0;) {
      auto& c = children[i];
      ++c.restart_token; // cancels pending restarts
      if (alive(c) && c.state != child_state::stopping)
        p.stop.push_back(c.spec.id);
      else if (!alive(c)) {
        set_state(c, child_state::stopped);
        publish(c);
      }
    }
    plans.clear();
    plans.push_back(std::move(p));
    advance();
  }

  /// Asks `c` to stop by its shutdown policy; its down message continues the
  /// running plan.
  void begin_stop(child_record& c) {
    set_state(c, child_state::stopping);
    publish(c);
    auto& sd = c.spec.shutdown;
    switch (sd.kind) {
      case shutdown_kind::brutal_kill:
        self->send_exit(c.handle, caf::exit_reason::kill);
        break;
      case shutdown_kind::timeout:
        self->send_exit(c.handle, caf::exit_reason::user_shutdown);
        self->delayed_send(self, sd.timeout, kill_timer_atom::value, c.spec.id, c.generation);
        break;
      case shutdown_kind::infinity:
        self->send_exit(c.handle, caf::exit_reason::user_shutdown);
        break;
    }
  }

  /// A stop that the supervisor asked for (or that a plan was waiting for)
  /// completed.
  void stopped(child_record& c, const caf::error& reason) {
    record_exit(c, reason);
    bool to_restart = !c.terminating && !shutting_down && !plans.empty()
                      && std::count(plans.front().start.begin(), plans.front().start.end(),
                                    c.spec.id) > 0;
    set_state(c, to_restart ? child_state::restarting : child_state::stopped);
    publish(c);
    if (c.terminating) {
      auto id = c.spec.id;
      c.terminating = false;
      answer_terminate_waiters(id);
      if (auto* x = find(id); x != nullptr && x->dynamic)
        erase(*x);
    }
  }

  void answer_terminate_waiters(const std::string& id) {
    for (auto i = terminate_waiters.begin(); i != terminate_waiters.end();) {
      if (i->first == id) {
        i->second.deliver(id);
        i = terminate_waiters.erase(i);
      } else {
        ++i;
      }
    }
  }

  /// Drops a pool member for good.
  void erase(child_record& c) {
    auto id = c.spec.id;
    if (c.handle)
      by_addr.erase(c.handle.address());
    auto at = index_of(c);
    set_state(c, child_state::stopped);
    children.erase(children.begin() + static_cast<std::ptrdiff_t>(at));
    by_id.erase(id);
    for (auto i = at; i < children.size(); ++i)
      by_id[children[i].spec.id] = i;
    dir->remove(id);
    dir->update(spec.id, [&](node_status& n) {
      auto j = std::find(n.children.begin(), n.children.end(), id);
      if (j != n.children.end())
        n.children.erase(j);
    });
  }

  /// `c` terminated and will not come back.
  void ended_for_good(child_record& c) {
    bool significant = c.spec.significant;
    if (c.dynamic)
      erase(c);
    if (significant)
      check_auto_shutdown();
  }

  void check_auto_shutdown() {
    switch (spec.flags.auto_shutdown) {
      case auto_shutdown::never:
        return;
      case auto_shutdown::any_significant:
        shutdown(caf::exit_reason::user_shutdown);
        return;
      case auto_shutdown::all_significant:
        for (auto& c : children)
          if (c.spec.significant && c.state != child_state::stopped)
            return;
        shutdown(caf::exit_reason::user_shutdown);
        return;
    }
  }

  /// Moves the front plan forward as far as it goes without waiting.
  void advance() {
    while (!plans.empty()) {
      if (in_transition > 0)
        return; // wait for a down message or a child_up_atom
      auto& p = plans.front();
      if (!p.stop.empty()) {
        auto id = p.stop.front();
        p.stop.pop_front();
        auto* c = find(id);
        if (c != nullptr && alive(*c))
          begin_stop(*c);
        continue;
      }
      if (p.quit) {
        for (auto& c : children)
          if (c.state != child_state::stopped) {
            set_state(c, child_state::stopped);
            publish(c);
          }
        auto reason = *p.quit;
        plans.clear();
        for (auto& w : terminate_waiters)
          w.second.deliver(make_error(errc::shutting_down, spec.id));
        terminate_waiters.clear();
        self->quit(std::move(reason));
        return;
      }
      if (!p.start.empty() && p.delay.count() > 0 && !p.delay_armed) {
        p.delay_armed = true;
        self->delayed_send(self, p.delay, plan_timer_atom::value, p.seq);
        return;
      }
      if (!p.start.empty()) {
        auto id = p.start.front();
        p.start.pop_front();
        auto* c = find(id);
        if (c == nullptr || alive(*c))
          continue;
        caf::error reason;
        if (!start(*c, !p.initial, reason)) {
          if (p.initial) {
            shutdown(std::move(reason));
            return;
          }
          p.failures.emplace_back(id, std::move(reason));
        }
        continue;
      }
      auto done = std::move(p);
      plans.pop_front();
      if (done.initial)
        report_up();
      for (auto& [id, reason] : done.failures)
        if (auto* c = find(id); c != nullptr && !shutting_down)
          failed(*c, reason);
    }
    drain_backlog();
  }

  /// The initial start completed: tell the parent (or, for a root, the
  /// directory) that this supervisor is up.
  void report_up() {
    if (parent) {
      self->send(parent, child_up_atom::value);
      return;
    }
    dir->update(spec.id, [](node_status& n) {
      if (n.state == child_state::starting)
        n.state = child_state::running;
    });
  }

  void on_child_up(const caf::actor_addr& from) {
    auto* c = find(from);
    if (c == nullptr || c->state != child_state::starting)
      return;
    set_state(*c, child_state::running);
    publish(*c);
    advance();
  }

  void drain_backlog() {
    while (plans.empty() && !backlog.empty()) {
      auto e = std::move(backlog.front());
      backlog.pop_front();
      auto* c = find(e.id);
      // A child terminated or restarted meanwhile has been dealt with.
      if (c == nullptr || alive(*c) || c->generation != e.generation)
        continue;
      decide(*c, e.reason);
    }
  }

  // -- requests --------------------------------------------------------------

  /// A new pool member from the template (not yet registered nor started).
  child_record pool_record(caf::message args) {
    auto& tmpl = spec.children.front();
    child_record c;
    c.spec = tmpl;
    c.spec.id = tmpl.id + "-" + std::to_string(++pool_seq);
    c.args = std::move(args);
    c.dynamic = true;
    return c;
  }

  caf::result<std::string> start_pool_member(caf::message args) {
    if (spec.flags.strategy != strategy::simple_one_for_one)
      return make_error(errc::not_a_pool, spec.id);
    if (shutting_down)
      return make_error(errc::shutting_down, spec.id);
    auto c = pool_record(std::move(args));
    if (auto err = register_child(c))
      return err;
    auto& rec = add_child(std::move(c));
    dir->update(spec.id, [&](node_status& n) { n.children.push_back(rec.spec.id); });
    caf::error reason;
    if (!start(rec, false, reason)) {
      erase(rec);
      return reason;
    }
    return rec.spec.id;
  }

  caf::result<std::string> terminate_child(const std::string& id) {
    auto* c = find(id);
    if (c == nullptr)
      return make_error(errc::unknown_child, id);
    if (shutting_down)
      return make_error(errc::shutting_down, spec.id);
    ++c->restart_token; // cancels a pending restart
    if (!alive(*c)) {
      set_state(*c, child_state::stopped);
      publish(*c);
      if (c->dynamic)
        erase(*c);
      return id;
    }
    c->terminating = true;
    auto rp = self->make_response_promise();
    terminate_waiters.emplace_back(id, rp);
    if (c->state != child_state::stopping) {
      plan p;
      p.seq = ++plan_seq;
      p.stop.push_back(id);
      plans.push_back(std::move(p));
      if (plans.size() == 1)
        advance();
    }
    return caf::delegated<std::string>{};
  }

  // -- init ------------------------------------------------------------------

  /// Validates the spec and starts the static children in order. On failure
  /// the supervisor stops what it started (reverse order) and quits.
  void init(supervisor_spec s, std::shared_ptr<directory> d, caf::actor up) {
    spec = std::move(s);
    dir = std::move(d);
    parent = std::move(up);
    rng.seed(spec.seed != 0 ? spec.seed : std::random_device{}());
    // Runs before the parent sees this incarnation's down message (the
    // functor is attached after the parent's monitor, and attachables run
    // newest first), so the next incarnation finds its children released.
    auto g = guard;
    std::weak_ptr<directory> weak_dir = dir;
    self->attach_functor([g, weak_dir, id = spec.id, me = self->address()](const caf::error&) {
      for (auto& h : g->take())
        caf::anon_send_exit(h, caf::exit_reason::kill);
      if (auto d = weak_dir.lock())
        d->release_children(id, me);
    });
    if (auto problem = validate(spec)) {
      self->quit(make_error(errc::invalid_spec, *problem));
      return;
    }
    if (spec.flags.strategy != strategy::simple_one_for_one) {
      for (auto& cs : spec.children) {
        child_record c;
        c.spec = cs;
        add_child(std::move(c));
      }
    } else {
      for (auto& args : spec.members)
        add_child(pool_record(args));
    }
    publish_children_list();
    for (auto& c : children) {
      if (auto err = register_child(c)) {
        self->quit(std::move(err));
        return;
      }
    }
    plan p;
    p.seq = ++plan_seq;
    p.initial = true;
    for (auto& c : children)
      p.start.push_back(c.spec.id);
    plans.push_back(std::move(p));
    advance();
  }
};

caf::behavior supervisor_fun(supervisor_actor* self, supervisor_spec spec,
                             std::shared_ptr<directory> dir, caf::actor parent) {
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  self->set_exit_handler([self](caf::exit_msg& em) {
    if (em.reason && em.reason != caf::exit_reason::normal)
      self->state.shutdown(em.reason);
  });
  self->state.init(std::move(spec), std::move(dir), std::move(parent));
  if (self->getf(caf::abstract_actor::is_terminated_flag))
    return {};
  return {
    [self](start_child_atom, caf::message& args) -> caf::result<std::string> {
      return self->state.start_pool_member(std::move(args));
    },
    [self](terminate_child_atom, const std::string& id) -> caf::result<std::string> {
      return self->state.terminate_child(id);
    },
    [self](count_children_atom) -> std::uint64_t { return self->state.children.size(); },
    [self](child_up_atom) {
      self->state.on_child_up(caf::actor_cast<caf::actor_addr>(self->current_sender()));
    },
    [self](restart_timer_atom, const std::string& id, std::uint64_t token) {
      auto& st = self->state;
      auto* c = st.find(id);
      if (c == nullptr || c->restart_token != token || st.shutting_down || st.alive(*c))
        return;
      st.restart_now(*c);
    },
    [self](kill_timer_atom, const std::string& id, std::uint64_t generation) {
      auto* c = self->state.find(id);
      if (c != nullptr && c->state == child_state::stopping && c->generation == generation)
        self->send_exit(c->handle, caf::exit_reason::kill);
    },
    [self](plan_timer_atom, std::uint64_t seq) {
      auto& st = self->state;
      if (!st.plans.empty() && st.plans.front().seq == seq) {
        st.plans.front().delay = duration{0};
        st.advance();
      }
    },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                            std::shared_ptr<directory> dir) {
  node_status n;
  n.id = spec.id;
  n.kind = child_kind::supervisor;
  n.state = child_state::starting;
  n.strategy = spec.flags.strategy;
  dir->add(std::move(n));
  auto id = spec.id;
  auto h = sys.spawn(supervisor_fun, std::move(spec), dir, caf::actor{});
  auto wall = dir->wall_clock().now();
  dir->update(id, [&](node_status& rec) {
    rec.handle = h; // the state turns running once its children are up
    rec.started_at = wall;
  });
  std::weak_ptr<directory> weak_dir = dir;
  auto addr = h.address();
  caf::actor_cast<caf::abstract_actor*>(h)->attach_functor([weak_dir, id, addr](const caf::error& rsn) {
    if (auto d = weak_dir.lock()) {
      d->update(id, [&](node_status& rec) {
        if (rec.handle.address() != addr)
          return;
        rec.handle = nullptr;
        rec.state = child_state::stopped;
        rec.last_exit = describe(rsn);
      });
    }
  });
  return h;
}

child_spec supervisor_child(supervisor_spec spec, std::shared_ptr<directory> dir,
                            restart_type restart) {
  child_spec c;
  c.id = spec.id;
  c.kind = child_kind::supervisor;
  c.restart = restart;
  c.shutdown = shutdown_policy::infinity();
  c.start = [spec = std::move(spec), dir = std::move(dir)](caf::local_actor* parent,
                                                          const caf::message&) {
    return parent->spawn(supervisor_fun, spec, dir, caf::actor_cast<caf::actor>(parent));
  };
  return c;
}

bool stop_tree(caf::actor_system& sys, const caf::actor& root, duration timeout) {
  if (!root)
    return true;
  caf::scoped_actor self{sys};
  self->monitor(root);
  self->send_exit(root, caf::exit_reason::user_shutdown);
  bool in_time = false;
  self->receive(
    [&](caf::down_msg& dm) {
      if (dm.source == root.address())
        in_time = true;
    },
    caf::after(timeout) >> [&] {
      self->send_exit(root, caf::exit_reason::kill);
    });
  if (!in_time)
    self->receive([](caf::down_msg&) {});
  return in_time;
}

} // namespace supervision
