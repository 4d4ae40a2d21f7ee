#include "app/backup_settings.hpp" // -- backup (issue 17)
#include "app/node.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/health/traffic.hpp"
#include "actors/jobs/pricing_variant.hpp" // flags (issue 15)
#include "actors/payments/stripe_adapter.hpp"
#include "actors/portal/link.hpp"
#include "app/secrets.hpp"
#include "app/store.hpp"
#include "app/store_regions.hpp"
#include "base/hlc.hpp"
#include "app/tree.hpp"
#include "base/shared_text.hpp"
#include "connectors/openai.hpp"
#include "connectors/stripe.hpp"
#include "connectors/telegram.hpp"
#include "connectors/newsletter.hpp" // growth (issue 14)
#include "connectors/webhook.hpp" // hooks (issue 15)
#include "app/store_webhooks.hpp" // hooks (issue 15)
#include "app/audit_hooks.hpp"    // -- audit (issue 17)
#include "protocol/growth.hpp"      // growth (issue 14)
#include "actors/growth/model.hpp"   // -- email (issue 16): unsubscribe tokens
#include "connectors/smtp.hpp"       // -- email (issue 16)
#include "http/caller.hpp"
#include "http/gateway.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "http/slo_recorder.hpp"
#include "supervision/errors.hpp"
#include "supervision/supervisor.hpp"

namespace echopilot::app {

using namespace std::chrono_literals;

namespace {

/// The rate guard's figures in Prometheus text.
void guard_metrics(const guard::guard_counters& c, std::string& out) {
  auto line = [&](const char* name, const char* type, const char* help, std::uint64_t v) {
    out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " "
           + std::to_string(v) + "\n";
  };
  line("echopilot_guard_clients", "gauge", "Clients the rate guard keeps (strikes, bans, limits).", c.clients);
  line("echopilot_guard_clients_max", "gauge", "The most clients the rate guard keeps (guard.max_clients).",
       c.max_clients);
  line("echopilot_guard_banned", "gauge", "Clients banned now.", c.banned);
  line("echopilot_guard_strikes_total", "counter", "Strikes: wrong or missing keys and limit hits.",
       c.strikes_total);
  line("echopilot_guard_bans_total", "counter", "Bans given.", c.bans_total);
  line("echopilot_guard_refused_banned_total", "counter", "Requests refused because their client was banned.",
       c.refused_banned_total);
  line("echopilot_guard_limited_total", "counter", "Requests over a route's limit (429).", c.limited_total);
  line("echopilot_guard_evicted_total", "counter", "Clients forgotten to stay within guard.max_clients.",
       c.evicted_total);
}


/// Waits for the root to report up (bounded): false if it stopped or timed out.
bool wait_until_up(const supervision::directory& dir, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = dir.status(root_id);
    if (s && s->state == supervision::child_state::running)
      return true;
    if (s && s->state == supervision::child_state::stopped)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

int fail_start(const std::string& what) {
  std::fprintf(stderr, "echopilot: %s\n", what.c_str());
  return 1;
}

/// Reads the flag defaults file (an empty path: none).
std::variant<std::map<std::string, flags::flag>, std::string> flag_defaults(const std::string& path) {
  std::map<std::string, flags::flag> out;
  if (path.empty())
    return out;
  auto text = read_file(path);
  if (!text)
    return "flag defaults " + path + ": cannot be read";
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded())
    return "flag defaults " + path + ": malformed JSON";
  if (auto bad = flags::parse_defaults(doc, out))
    return "flag defaults " + path + ": " + *bad;
  return out;
}

// -- experiments (S13; issue 14 exp) --
/// Reads the experiments file (an empty path: none); a bad one names the
/// experiment and field.
std::variant<experiments::catalog, std::string> experiment_catalog(const std::string& path) {
  if (path.empty())
    return experiments::catalog{};
  auto text = read_file(path);
  if (!text)
    return "experiments " + path + ": cannot be read";
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded())
    return "experiments " + path + ": malformed JSON";
  std::string error;
  auto c = experiments::parse_catalog(doc, error);
  if (!c)
    return "experiments " + path + ": " + error;
  return std::move(*c);
}

/// Prometheus lines of the jobs subsystem and the model connector.
void jobs_metrics(const jobs::queue_gauges& g, const connectors::openai_client* model, std::string& out) {
  out += "# HELP echopilot_jobs Jobs by status.\n# TYPE echopilot_jobs gauge\n";
  std::pair<const char*, std::int64_t> by_status[] = {{"queued", g.queued},         {"processing", g.processing},
                                                      {"completed", g.completed},   {"failed", g.failed},
                                                      {"dead", g.dead},
                                                      // -- flow (issue 15)
                                                      {"waiting_human", g.waiting_human},
                                                      {"cancelled", g.cancelled}};
  for (auto& [name, n] : by_status)
    out += "echopilot_jobs{status=\"" + std::string{name} + "\"} " + std::to_string(n) + "\n";
  out += "# HELP echopilot_job_workers Workers known to the queue, and how many are idle.\n"
         "# TYPE echopilot_job_workers gauge\n"
         "echopilot_job_workers{state=\"known\"} " + std::to_string(g.workers) + "\n"
         "echopilot_job_workers{state=\"idle\"} " + std::to_string(g.idle_workers) + "\n";
  if (model == nullptr)
    return;
  auto m = model->stats();
  out += "# HELP echopilot_model_calls_total Model calls by outcome.\n"
         "# TYPE echopilot_model_calls_total counter\n"
         "echopilot_model_calls_total{outcome=\"ok\"} " + std::to_string(m.succeeded) + "\n"
         "echopilot_model_calls_total{outcome=\"failed\"} " + std::to_string(m.failed) + "\n"
         "# HELP echopilot_model_retries_total HTTP retries of model calls.\n"
         "# TYPE echopilot_model_retries_total counter\n"
         "echopilot_model_retries_total " + std::to_string(m.retries) + "\n"
         "# HELP echopilot_model_calls_in_flight Model calls in flight.\n"
         "# TYPE echopilot_model_calls_in_flight gauge\n"
         "echopilot_model_calls_in_flight " + std::to_string(m.in_flight) + "\n";
}

/// What the operations actors read of the HTTP server, which starts after
/// the tree: set once it exists, cleared before it goes.
struct server_view {
  std::atomic<const http::gateway*> gw{nullptr};
  std::atomic<std::uint64_t> max_connections{0};
};

/// The HTTP server's figures for the health and costs actors: connections
/// and bytes from the gateway's counters, the recent requests from
/// `recent` (fed by the access sink).
health::gateway_reader gateway_figures(std::shared_ptr<server_view> view, std::shared_ptr<health::traffic> recent,
                                       base::clock* clock) {
  return [view, recent, clock] {
    health::gateway_sample g;
    recent->read(clock->now_ms() / 1000, g);
    g.max_connections = view->max_connections.load();
    if (auto* gw = view->gw.load()) {
      auto& c = gw->connections();
      g.open_connections = c.open.load(std::memory_order_relaxed);
      g.accepted = c.accepted.load(std::memory_order_relaxed);
      g.refused = c.closed[static_cast<std::size_t>(http::close_reason::address_cap)].load(std::memory_order_relaxed)
                  + c.closed[static_cast<std::size_t>(http::close_reason::full)].load(std::memory_order_relaxed);
      g.bytes_in = c.bytes_in.load(std::memory_order_relaxed);
      g.bytes_out = c.bytes_out.load(std::memory_order_relaxed);
    }
    return g;
  };
}

} // namespace

int run_node(const settings& s) {
  // The wall clock; ECHOPILOT_CLOCK_START (tests only) shifts it.
  std::unique_ptr<base::clock> shifted;
  if (s.clock_start)
    shifted = std::make_unique<base::offset_clock>(*s.clock_start);
  base::clock& clock = shifted ? *shifted : base::default_clock();
  auto started_at = clock.now();

  // Data dir and secrets (never printed).
  if (auto problem = ensure_dir(s.data_dir); !problem.empty())
    return fail_start("data dir: " + problem);
  auto key_path = s.data_dir + "/dashboard.key";
  auto key = load_or_create_secret(key_path, s.dashboard_key);
  if (auto* e = std::get_if<secret_error>(&key))
    return fail_start("dashboard key: " + e->message);
  auto secret = load_or_create_secret(s.data_dir + "/session.secret", s.session_secret);
  if (auto* e = std::get_if<secret_error>(&secret))
    return fail_start("session secret: " + e->message);

  auto defaults = flag_defaults(s.flags_defaults);
  if (auto* e = std::get_if<std::string>(&defaults))
    return fail_start(*e);
  auto experiment_list = experiment_catalog(s.experiments.file); // issue 14 exp
  if (auto* e = std::get_if<std::string>(&experiment_list))
    return fail_start(*e);

  // The regions (S26): this node's id and the cluster's secret, kept in
  // the data dir (the secret from ECHOPILOT_CLUSTER_SECRET, or generated
  // once, to be copied to every node).
  auto node_file = load_or_create_secret(s.data_dir + "/node.id", "");
  if (auto* e = std::get_if<secret_error>(&node_file))
    return fail_start("node id: " + e->message);
  auto node_id = std::get<std::string>(node_file).substr(0, 16);
  auto cluster_secret = load_or_create_secret(s.data_dir + "/cluster.secret", s.cluster_secret);
  if (auto* e = std::get_if<secret_error>(&cluster_secret))
    return fail_start("cluster secret: " + e->message);
  bool clustered = s.cluster_port.has_value() || !s.peers.empty();

  caf::actor_system_config cfg;
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  supervision::add_error_category(cfg);
  // One scheduler thread per core: CAF 0.17 starts at least 4, and on a
  // 2-core machine the idle ones poll (a wake-up every 50 us), which cost a
  // fifth of the node's CPU per job (docs/BENCHMARKS.md, jobs end to end).
  // Blocking work never runs on these threads (the store's writer, list
  // readers and the connectors have threads of their own).
  cfg.set("scheduler.max-threads", static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  if (clustered) {
    // CAF's own network layer; heartbeats so that a frozen peer (its TCP
    // connection still open) is seen down within about 1.2 s.
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.heartbeat-interval", caf::timespan{200ms});
    cfg.set("middleman.connection-timeout", caf::timespan{1s});
  }
  caf::actor_system sys{cfg};

  // Every change of a replicated table gets a version from the node's
  // hybrid logical clock and an event in its replication log, in the same
  // transaction (persistence/writer.hpp); the cluster actor hears of each
  // commit and tells the peers.
  auto dir = std::make_shared<supervision::directory>(clock);
  auto hlc = std::make_shared<base::hlc>(clock, node_id);
  auto replication = std::make_shared<persistence::replication_hook>();
  replication->tables = replicated_tables();
  replication->versions_table = regions::versions_table;
  replication->stream = regions::log_stream;
  replication->next_version = [hlc] { return hlc->next_version(); };
  replication->observe = [hlc](const std::string& v) { hlc->observe_version(v); };
  replication->committed = [dir, node_id](std::uint64_t head) {
    if (auto cluster = dir->resolve(regions::cluster_id))
      caf::anon_send(*cluster, regions::have_atom::value, node_id, head);
  };

  // The store opens before anything that keeps state in it starts; its
  // writer is the tree's first child, found by name.
  auto opened = node_store::open(s.data_dir, sys, clock, [dir] { return dir->resolve(writer_id); }, replication);
  if (auto* e = std::get_if<std::string>(&opened))
    return fail_start(*e);
  auto store = std::move(std::get<std::unique_ptr<node_store>>(opened));

  subsystems parts;
  parts.tuning = s.supervisors;
  parts.writer = store->writer_start();
  parts.access_log = store->access_log_start();
  parts.flags.defaults = std::move(std::get<0>(defaults));
  parts.flags.store = store->flags_port();
  parts.flags.clock = &clock;
  auto flags_view = std::make_shared<flags::view>();
  parts.flags.published = flags_view;
  // The model connector: only with a key (no key: the local processor).
  std::shared_ptr<connectors::openai_client> model;
  if (!s.openai.api_key.empty()) {
    try {
      model = std::make_shared<connectors::openai_client>(s.openai);
    } catch (const std::exception& e) {
      return fail_start(std::string{"model connector: "} + e.what());
    }
  }
  auto jobs_cfg = std::make_shared<const jobs::jobs_config>(s.jobs);
  parts.jobs_queue.jobs = jobs_cfg;
  parts.jobs_queue.store = store->jobs_port();
  parts.jobs_queue.dir = dir;
  parts.jobs_queue.root_id = root_id;
  auto gauges = std::make_shared<jobs::queue_gauges>();
  parts.jobs_queue.gauges = gauges;
  parts.jobs_queue.clock = &clock;
  { // flags (issue 15): ab.pricing_v2 prices the experiment pricing_v2's variants
    auto pricing = std::make_shared<jobs::pricing_variant_config>();
    pricing->flags = flags_view;
    auto& catalog = std::get<experiments::catalog>(experiment_list);
    if (auto e = catalog.find(jobs::pricing_experiment); e != catalog.end())
      pricing->experiment = e->second;
    parts.jobs_queue.pricing = std::move(pricing);
  }
  parts.jobs_worker.jobs = jobs_cfg;
  parts.jobs_worker.model = model;
  parts.jobs_worker.dir = dir;
  parts.jobs_worker.clock = &clock;
  // -- hooks (issue 15): completion webhooks (their own libcurl thread) and
  // the clients' daily limits read at intake.
  {
    std::shared_ptr<connectors::webhook_client> hooks_http;
    try {
      hooks_http = std::make_shared<connectors::webhook_client>();
    } catch (const std::exception& e) {
      return fail_start(std::string{"webhook connector: "} + e.what());
    }
    parts.webhooks.store = store->webhooks_port();
    parts.webhooks.clock = &clock;
    parts.webhooks.job_secret = s.webhooks.job_secret;
    parts.webhooks.attempts = s.webhooks.attempts;
    parts.webhooks.retry_base = s.webhooks.retry_base;
    parts.webhooks.retry_max = s.webhooks.retry_max;
    parts.webhooks.post = [hooks_http](const std::string& url, const std::string& body, const std::string& secret,
                                       std::int64_t unix_s, const std::string& id,
                                       std::function<void(webhooks::post_outcome)> done) {
      hooks_http->post(url, body, secret, unix_s, id, [done = std::move(done)](connectors::webhook_result r) {
        done({r.delivered, r.status, std::move(r.error), r.permanent});
      });
    };
    parts.jobs_queue.client_settings = client_reader(store->webhooks_port());
  }
  // Alerts and incidents notify through Telegram (dry-run without a token
  // or a chat id, which every answer says).
  std::shared_ptr<connectors::telegram_client> telegram;
  try {
    telegram = std::make_shared<connectors::telegram_client>(s.telegram);
  } catch (const std::exception& e) {
    return fail_start(std::string{"telegram connector: "} + e.what());
  }
  auto notifier = alerts::telegram_notifier(telegram);
  // Payments (S6, S7, S9): Stripe in test or live mode (dry-run without a
  // key); a key that does not suit the mode stops the start.
  connectors::stripe_options so;
  so.api_base = s.payments.api_base;
  so.secret_key = s.payments.secret_key;
  so.mode = s.payments.live ? connectors::stripe_mode::live : connectors::stripe_mode::test;
  std::shared_ptr<connectors::stripe_client> stripe;
  try {
    stripe = std::make_shared<connectors::stripe_client>(so);
  } catch (const std::exception& e) {
    return fail_start(std::string{"stripe: "} + e.what());
  }
  auto pay_counters = std::make_shared<payments::payment_counters>();
  parts.payments.store = store->payments_port();
  parts.payments.stripe = payments::make_stripe_port(stripe);
  parts.payments.dir = dir;
  parts.payments.counters = pay_counters;
  parts.payments.clock = &clock;
  parts.payments.live = s.payments.live;
  parts.payments.flags = flags_view; // payments.live pauses new checkouts
  parts.payments.fraud.allow = payments::parse_allowlist(s.payments.email_allow);
  parts.payments.fraud.block_prepaid = s.payments.block_prepaid;
  parts.payments.fraud.max_per_hour = s.payments.max_per_hour;
  parts.payments.fraud.max_amount_day_cents = s.payments.max_amount_day_cents;
  parts.payments.currency = s.payments.currency;
  parts.payments.minimum_charge_cents = s.payments.minimum_charge_cents;
  parts.payments.recon_lookback_days = s.payments.recon_lookback_days;
  // Stripe returns the client to their own portal through a fresh signed
  // link, on the address the server really has (known after it binds).
  auto public_url = std::make_shared<base::shared_text>(public_url_of(s));
  parts.payments.portal_link = [public_url, session = std::get<std::string>(secret), &clock,
                                hours = s.portal_link_hours](const std::string& email) {
    auto exp = std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count()
               + std::int64_t{hours} * 3600;
    return public_url->get() + portal::link_path(session, email, exp);
  };
  parts.payments.backup_dir = backup_dir_of(s) ;
  // -- growth (issue 14): MailerLite and Brevo (dry-run without keys); the
  // connectors refuse to subscribe an address on the suppression list.
  {
    auto growth_port = store->growth_port();
    auto suppressed = [growth_port](const std::string& email) {
      return growth_port->get(growth::suppression_table, email).has_value();
    };
    parts.growth.clock = &clock;
    parts.growth.store = growth_port;
    parts.growth.secret = std::get<std::string>(secret);
    parts.growth.public_url = public_url;
    parts.growth.email_enabled = s.growth.email_enabled;
    parts.growth.confirm_ttl = s.growth.confirm_ttl;
    parts.growth.retry_every = s.growth.retry_every;
    parts.growth.forward_wait = s.growth.forward_wait;
    for (auto opts : {s.growth.mailerlite, s.growth.brevo}) {
      opts.suppressed = suppressed;
      std::shared_ptr<connectors::newsletter_client> client;
      try {
        client = std::make_shared<connectors::newsletter_client>(opts);
      } catch (const std::exception& e) {
        return fail_start(std::string{"newsletter connector: "} + e.what());
      }
      parts.growth.providers.push_back(
        {connectors::to_string(opts.provider),
         [client](const connectors::newsletter_contact& c, std::function<void(connectors::newsletter_result)> done) {
           client->subscribe(c, std::move(done));
         },
         [client](const std::string& email, std::function<void(connectors::newsletter_result)> done) {
           client->unsubscribe(email, std::move(done));
         }});
    }
  }
  // -- end growth
  // -- email (issue 16): the outbox sends through SMTP (dry-run without
  // SMTP_HOST); the suppression list (S10) is read from the growth tables;
  // every message names its signed one-click unsubscribe link.
  {
    std::shared_ptr<connectors::smtp_client> smtp;
    try {
      smtp = std::make_shared<connectors::smtp_client>(s.email.smtp);
    } catch (const std::exception& e) {
      return fail_start(std::string{"smtp connector: "} + e.what());
    }
    auto growth_port = store->growth_port();
    parts.email.store = store->email_port();
    parts.email.clock = &clock;
    parts.email.dry_run = smtp->dry_run();
    parts.email.from = s.email.smtp.from;
    parts.email.from_name = s.email.from_name;
    parts.email.max_attempts = s.email.max_attempts;
    parts.email.retry_base = s.email.retry_base;
    parts.email.retry_max = s.email.retry_max;
    parts.email.max_in_flight = s.email.max_in_flight;
    parts.email.suppressed = [growth_port](const std::string& email) {
      return growth_port->get(growth::suppression_table, email).has_value();
    };
    parts.email.unsubscribe_url = [public_url, secret = std::get<std::string>(secret)](const std::string& email) {
      return public_url->get() + "/api/customer/unsubscribe/one-click?token="
             + portal::percent_encode(growth::unsubscribe_token(secret, email));
    };
    parts.email.send = [smtp](const std::string& to, const std::string& mime,
                              std::function<void(email::send_outcome)> done) {
      smtp->send(to, mime, [done = std::move(done)](connectors::smtp_outcome o) {
        email::send_outcome out;
        out.v = o.verdict == connectors::smtp_verdict::ok          ? email::send_outcome::verdict::ok
                : o.verdict == connectors::smtp_verdict::temporary ? email::send_outcome::verdict::temporary
                                                                   : email::send_outcome::verdict::permanent;
        out.code = o.code;
        out.text = std::move(o.text);
        done(std::move(out));
      });
    };
  }
  // -- end email
  parts.alerts.payments = pay_counters;
  auto alerts_port = store->alerts_port();
  parts.alerts.store = alerts_port;
  parts.alerts.notify = notifier;
  parts.alerts.clock = &clock;
  parts.alerts.dir = dir;
  parts.incidents.store = alerts_port;
  parts.incidents.notify = notifier;
  parts.incidents.clock = &clock;
  parts.incidents.dir = dir;
  parts.scheduler.tasks = s.scheduler.tasks;
  parts.scheduler.start_window = s.scheduler.start_window;
  parts.scheduler.store = store->scheduler_port();
  parts.scheduler.dir = dir;
  parts.scheduler.clock = &clock;
  parts.http_bridges = s.http_threads;
  // The SLO monitor (S15): the gateway counts, the actor harvests. The
  // recorder outlives the tree (the actor's last harvest is at its stop).
  auto slo_recorder = s.slo_record ? std::make_shared<http::slo_recorder>(clock) : nullptr;
  parts.slo.goals = s.slo;
  if (slo_recorder)
    parts.slo.source = slo_recorder->source();
  parts.slo.store = store->slo_port();
  parts.slo.dir = dir;
  parts.slo.clock = &clock;
  parts.slo.flags = flags_view; // features.slo_monitoring
  parts.slo.harvest_every = s.slo_harvest_every;
  // Operations: the health and costs actors read the machine, the store and
  // the HTTP server (through providers: they know neither LMDB nor HTTP).
  auto recent = std::make_shared<health::traffic>();
  auto view = std::make_shared<server_view>();
  auto* st_ops = store.get();
  auto server_figures = gateway_figures(view, recent, &clock);
  parts.health.clock = &clock;
  parts.health.dir = dir;
  parts.health.root_id = root_id;
  parts.health.data_dir = s.data_dir;
  parts.health.limits = s.health;
  parts.health.store = [st_ops] { return st_ops->sample(); };
  parts.health.gateway = server_figures;
  parts.health.events = store->ops_events_port();
  parts.costs.clock = &clock;
  parts.costs.dir = dir;
  parts.costs.data_dir = s.data_dir;
  parts.costs.backup_dir = backup_dir_of(s);
  parts.costs.unit_prices = s.costs;
  parts.costs.gateway = server_figures;
  parts.costs.events = store->ops_events_port();
  // -- backup (issue 17): backup sets of the store and the configuration.
  parts.backup.set.clock = &clock;
  parts.backup.set.backup_dir = backup_dir_of(s);
  parts.backup.set.node = node_id;
  parts.backup.set.region = s.region;
  parts.backup.set.config_file = s.config;
  parts.backup.set.settings = settings_without_secrets(s);
  parts.backup.store = store->backup_port();
  parts.backup.keep_daily = s.backup_keep_daily;
  parts.backup.keep_weekly = s.backup_keep_weekly;
  parts.backup.made = backup_auditor(dir); // -- audit (issue 17)
  // experiments (S13; issue 14 exp)
  parts.experiments.experiments = std::move(std::get<experiments::catalog>(experiment_list));
  parts.experiments.alpha = s.experiments.alpha;
  parts.experiments.store = store->experiments_port();
  parts.experiments.clock = &clock;
  // churn (issue 15 flags): scores clients while features.churn_ai is on
  parts.churn.store = store->churn_port();
  parts.churn.flags = flags_view;
  parts.churn.clock = &clock;
  // -- inbox (issue 16): the support inbox over IMAP (dry-run without
  // IMAP_HOST/USER/PASS: nothing contacted, said so).
  try {
    parts.support.mailbox = support::imap_mailbox(std::make_shared<connectors::imap_client>(s.imap));
  } catch (const std::exception& e) {
    return fail_start(std::string{"imap connector: "} + e.what());
  }
  parts.support.store = store->support_port();
  parts.support.clock = &clock;
  // -- audit (issue 17): the audit chain's actor
  parts.audit.store = store->audit_port();
  parts.audit.clock = &clock;
  parts.compliance.store = store->compliance_port();
  parts.compliance.clock = &clock;
  parts.compliance.cluster = [dir] {
    auto cluster = dir->resolve(regions::cluster_id);
    return cluster ? *cluster : caf::actor{};
  };
  { // -- pricing (issue 18): pricing AI (S27); the rates it applies price the jobs
    auto applied_rates = std::make_shared<pricing::rates>();
    parts.jobs_queue.applied_rates = applied_rates;
    parts.pricing.published = applied_rates;
    parts.pricing.store = store->pricing_port();
    parts.pricing.clock = &clock;
    parts.pricing.dir = dir;
    for (auto& [type, threshold] : s.jobs.task_types)
      parts.pricing.task_types.push_back(type);
    parts.pricing.default_rate_micros = s.jobs.rate_per_min;
    parts.pricing.model = model;
    parts.pricing.model_name = s.jobs.model;
    if (auto p = s.jobs.prices.find(s.jobs.model); p != s.jobs.prices.end()) {
      parts.pricing.model_input_per_million = p->second.input_per_million;
      parts.pricing.model_output_per_million = p->second.output_per_million;
    }
  }
  // -- brain (issue 18): the ops brain, briefs and reports (S28); the model
  // is the jobs' processing model, priced from the jobs' price table; the
  // daily report goes to SMTP_FROM (the operator) through the outbox.
  parts.brain.store = store->brain_port();
  parts.brain.clock = &clock;
  parts.brain.dir = dir;
  parts.brain.root_id = root_id;
  parts.brain.model = model;
  parts.brain.model_name = s.jobs.model;
  parts.brain.price_usd = [prices = s.jobs.prices](const std::string& m, std::uint64_t in,
                                                   std::uint64_t out) -> std::optional<double> {
    auto p = prices.find(m);
    if (p == prices.end())
      return std::nullopt;
    return static_cast<double>(jobs::cost_of(p->second, in, out)) / 1e6;
  };
  parts.brain.report_to = s.email.smtp.from;
  // -- end brain
  // The client portal: uploads under the data dir, transcription through
  // the model connector when there is one.
  parts.portal.clock = &clock;
  parts.portal.dir = dir;
  parts.portal.data_dir = s.data_dir;
  parts.portal.events = store->ops_events_port();
  parts.portal.transcription_model = s.openai.transcription_model;
  if (model)
    parts.portal.transcribe = [model](const std::string& path, const std::string& name, const std::string& m,
                                      std::function<void(connectors::chat_result)> done) {
      model->transcribe(path, name, m, std::move(done));
    };
  std::string cluster_address =
    s.cluster_port ? s.cluster_bind + ":" + std::to_string(*s.cluster_port) : std::string{};
  parts.regions.region = s.region;
  parts.regions.node = node_id;
  parts.regions.secret = std::get<std::string>(cluster_secret);
  parts.regions.bind = s.cluster_bind;
  parts.regions.port = s.cluster_port.value_or(0);
  parts.regions.peers = s.peers;
  parts.regions.store = store->regions_port();
  parts.regions.status = std::make_shared<regions::board>(s.region, node_id, cluster_address, s.peers);
  parts.regions.dir = dir;
  parts.regions.clock = &clock;
  // The rate guard (S22): one table the gateway decides from, filled with
  // the strikes and bans the store kept (a restart lifts no ban) before the
  // server takes a request; the guard actor keeps it in the store.
  auto guard_table = std::make_shared<guard::table>(s.guard.table, clock);
  parts.guard.store = store->guard_port();
  for (auto& [client, record] : parts.guard.store->load_all())
    guard_table->load(client, record);
  parts.guard.state = guard_table;
  parts.guard.enabled = s.guard.enabled;
  parts.guard.trusted_proxies = s.guard.trusted_proxies;
  parts.guard.exempt = s.guard.exempt;
  auto root = supervision::spawn_supervisor(sys, node_tree(dir, parts), dir);
  // A root that gives up (its intensity exceeded) ends the process with a
  // non-zero status, so that systemd or a container restarts it, rather
  // than a node answering 503 forever. The functor runs in the dying root.
  auto root_gone = std::make_shared<std::atomic<bool>>(false);
  caf::actor_cast<caf::abstract_actor*>(root)->attach_functor([root_gone](const caf::error&) {
    root_gone->store(true);
    ::kill(::getpid(), SIGUSR1);
  });
  if (!wait_until_up(*dir, 10s)) {
    auto st = dir->status(root_id);
    supervision::stop_tree(sys, root, 5s);
    return fail_start("the supervision tree did not come up: "
                      + (st && !st->last_exit.empty() ? st->last_exit : std::string{"timed out"}));
  }

  // -- audit (issue 17): a restore's RESTORED.json becomes an audit entry.
  if (auto warning = record_restore(sys, *dir, s.data_dir); !warning.empty())
    std::fprintf(stderr, "echopilot: audit: %s\n", warning.c_str());

  // The HTTP gateway.
  http::caller calls{dir, s.http_threads};
  http::route_context ctx;
  ctx.calls = &calls;
  ctx.dir = dir;
  ctx.clock = &clock;
  ctx.timeout = s.request_timeout;
  ctx.root_id = root_id;
  ctx.version = ECHOPILOT_VERSION;
  ctx.region = s.region;
  ctx.started_at = started_at;
  ctx.flags_view = flags_view;
  ctx.web_root = s.web_root; // the dashboard (S30)
  ctx.portal.secret = std::get<std::string>(secret);
  ctx.portal.link_hours = s.portal_link_hours;
  ctx.portal.public_url = public_url;
  ctx.webhook_secret = s.payments.webhook_secret;
  ctx.webhook_rejected = [pay_counters, &clock] { pay_counters->webhook_failure(clock.now_ms()); };
  if (!read_file(s.web_root + "/index.html"))
    std::fprintf(stderr, "echopilot: no dashboard in %s (web.root, ECHOPILOT_WEB_ROOT): /dashboard answers 404\n",
                 s.web_root.c_str());
  auto* st = store.get();
  ctx.store_open = [st] { return st->is_open(); }; // open, not broken, its writer running
  ctx.extra_metrics = [st, gauges, model, slo_recorder, guard_table](std::string& out) {
    st->metrics(out);
    guard_metrics(guard_table->counters(), out);
    jobs_metrics(*gauges, model.get(), out);
    if (slo_recorder)
      out += "# HELP echopilot_slo_requests_dropped_total Requests the SLO recorder could not count (a harvest "
             "came too late).\n# TYPE echopilot_slo_requests_dropped_total counter\n"
             "echopilot_slo_requests_dropped_total " + std::to_string(slo_recorder->dropped()) + "\n"
             "# HELP echopilot_slo_requests_late_total Requests the SLO recorder counted after their minute was "
             "harvested.\n# TYPE echopilot_slo_requests_late_total counter\n"
             "echopilot_slo_requests_late_total " + std::to_string(slo_recorder->late()) + "\n";
  };
  ctx.export_events = [st](const std::string& stream, std::uint64_t from, std::size_t limit,
                           std::string& out) { return st->export_events(stream, from, limit, out); };
  http::gateway_options gopts;
  gopts.dashboard_key = std::get<std::string>(key);
  gopts.default_body_limit = s.body_limit;
  gopts.fault_injection = s.fault_injection;
  gopts.slo = slo_recorder;
  if (s.guard.enabled)
    gopts.guard = guard_table;
  gopts.trusted_proxies = s.guard.trusted_proxies;
  gopts.exempt = s.guard.exempt;
  gopts.on_key_refused = key_refused_auditor(dir); // -- audit (issue 17)
  http::gateway gw{http::make_routes(ctx), gopts,
                   [st, recent, clk = &clock](http::access_event ev) {
                     recent->record(ev.status, ev.latency_us, clk->now_ms() / 1000);
                     st->record_access(std::move(ev));
                   }};
  *ctx.gw = &gw;
  std::unique_ptr<http::server> server;
  try {
    http::server_options so;
    so.bind = s.bind;
    so.port = s.port;
    so.threads = s.http_threads;
    so.connections.max_total = s.max_connections;
    so.connections.max_per_address = s.max_connections_per_address;
    so.connections.idle = s.idle_timeout;
    so.connections.header = s.header_timeout;
    so.connections.body = s.body_timeout;
    server = std::make_unique<http::server>(so, gw);
    view->max_connections = server->limits().max_total;
    // The base of full links: the configured one, or this server's address
    // (with the port it got when asked for port 0).
    auto at = s;
    at.port = server->port();
    ctx.portal.public_url->set(public_url_of(at));
    view->gw = &gw;
  } catch (const std::exception& e) {
    supervision::stop_tree(sys, root, 5s);
    return fail_start(e.what());
  }

  std::string host = s.bind.find(':') != std::string::npos ? "[" + s.bind + "]" : s.bind;
  std::printf("echopilot %s serving http://%s:%u/dashboard (region %s, data dir %s; dashboard key %s; "
              "jobs: %s)\n",
              ECHOPILOT_VERSION, host.c_str(), static_cast<unsigned>(server->port()),
              s.region.c_str(), s.data_dir.c_str(),
              s.dashboard_key.empty() ? ("in " + key_path).c_str() : "from DASHBOARD_KEY",
              model ? ("model " + s.jobs.model + " at " + s.openai.base_url).c_str()
                    : "local processor, no model configured");
  std::fflush(stdout);

  // SIGTERM or SIGINT: an orderly stop. SIGUSR1: the root gave up.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  int sig = 0;
  do
    sigwait(&signals, &sig);
  while (sig == SIGUSR1 && !root_gone->load());
  if (sig == SIGUSR1) {
    auto st_root = dir->status(root_id);
    std::fprintf(stderr, "echopilot: the supervision tree gave up (%s); exiting so that the node is restarted\n",
                 st_root && !st_root->last_exit.empty() ? st_root->last_exit.c_str() : "stopped");
  }

  // Reverse order: stop taking requests and let those in flight finish
  // (bounded), stop the tree, then flush and close the store.
  if (!server->drain(s.drain_timeout))
    std::fprintf(stderr, "echopilot: requests still in flight after %lld ms were cut off\n",
                 static_cast<long long>(s.drain_timeout.count()));
  *ctx.gw = nullptr;
  view->gw = nullptr;
  bool in_time = supervision::stop_tree(sys, root, 10s);
  if (!in_time)
    std::fprintf(stderr, "echopilot: the tree did not stop within 10 s; killed it\n");
  store->close();
  if (sig == SIGUSR1)
    return exit_tree_gave_up;
  return in_time ? 0 : 1;
}

} // namespace echopilot::app
