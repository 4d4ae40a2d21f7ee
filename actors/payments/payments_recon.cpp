// Reconciliation on demand and every 6 h (findings to the alerts), and the
// nightly snapshot as a dated file under the backup dir.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/payments/payments_state.hpp"
#include "actors/payments/reconcile.hpp"
#include "base/crypto.hpp"
#include "protocol/alerts.hpp"
#include "supervision/directory.hpp"

namespace echopilot::payments {

using nlohmann::json;
using persistence::op;

namespace {

constexpr const char* recon_rule = "payments_reconciliation";
constexpr std::size_t max_pages = 50;

struct recon_run {
  std::int64_t from_ms = 0;
  std::vector<json> sessions;
  std::size_t pages = 0;
  std::function<void(caf::expected<json>)> done;
};

void compare(caf::event_based_actor* self, const state_ptr& st, const std::shared_ptr<recon_run>& run) {
  auto now = st->now();
  std::vector<invoice> ledger;
  for (auto& stored : st->cfg.store->between(invoices_table, run->from_ms, now + 1, SIZE_MAX))
    if (auto inv = invoice_from_json(stored))
      if (auto cur = load_invoice(st, inv->id))
        ledger.push_back(*cur);
  auto findings = reconcile(ledger, run->sessions);
  json report = {{"at", base::to_iso8601(st->cfg.clock->now())},
                 {"at_ms", now},
                 {"since_ms", run->from_ms},
                 {"invoices", ledger.size()},
                 {"sessions", run->sessions.size()},
                 {"pages", run->pages},
                 {"findings", findings},
                 {"ok", findings.empty()}};
  // Findings raise the alert; a clean run recovers it.
  if (auto alerts = st->cfg.dir ? st->cfg.dir->resolve(alerts::actor_id) : caf::expected<caf::actor>{caf::sec::invalid_argument}) {
    if (findings.empty()) {
      caf::anon_send(*alerts, alerts::recover_atom::value, std::string{recon_rule}, std::string{actor_id});
    } else {
      std::string msg = std::to_string(findings.size()) + " reconciliation finding(s): ";
      msg += findings[0].value("detail", "");
      caf::anon_send(*alerts, alerts::raise_atom::value,
                     json{{"rule", recon_rule},
                          {"severity", "warning"},
                          {"source", actor_id},
                          {"message", msg},
                          {"labels", {{"findings", std::to_string(findings.size())}}}});
    }
  } else {
    report["warnings"] = json::array({"the alerts actor is not running; findings were not raised"});
  }
  st->last_recon = report;
  json ev = report;
  ev["event"] = "reconciliation";
  st->cfg.store->commit(self, {op::put(meta_table, "last_reconciliation", report), op::append(stream, ev)},
                        [run, report](const caf::error& err) {
                          if (err)
                            run->done(make_error(errc::storage_failure, "the reconciliation report was not stored"));
                          else
                            run->done(report);
                        });
}

void next_page(caf::event_based_actor* self, const state_ptr& st, const std::shared_ptr<recon_run>& run,
               std::string after) {
  json query = {{"limit", 100}, {"created", {{"gte", run->from_ms / 1000}}}};
  if (!after.empty())
    query["starting_after"] = after;
  stripe_get(self, st, "checkout/sessions", std::move(query), [self, st, run](json r) {
    if (!r.value("ok", false)) {
      run->done(make_error(errc::unavailable,
                           r.value("dry_run", false)
                             ? "no Stripe key (dry-run): there is nothing at Stripe to reconcile against"
                             : "Stripe did not list the sessions (" + r.value("error_code", "") + "): "
                                 + r.value("error_message", "")));
      return;
    }
    ++run->pages;
    auto& obj = r["object"];
    std::string last;
    if (obj.contains("data") && obj["data"].is_array())
      for (auto& s : obj["data"]) {
        last = s.value("id", "");
        run->sessions.push_back(s);
      }
    if (obj.value("has_more", false) && !last.empty() && run->pages < max_pages)
      next_page(self, st, run, last);
    else
      compare(self, st, run);
  });
}

void run_reconcile(caf::event_based_actor* self, const state_ptr& st, std::function<void(caf::expected<json>)> done) {
  if (st->reconciling) {
    done(make_error(errc::conflict, "a reconciliation is running; retry in a moment"));
    return;
  }
  st->reconciling = true;
  auto run = std::make_shared<recon_run>();
  run->from_ms = st->now() - st->cfg.recon_lookback_days * ledger_window::day_ms;
  run->done = [st, done](caf::expected<json> x) {
    st->reconciling = false;
    done(std::move(x));
  };
  next_page(self, st, run, {});
}

/// Writes `text` to `path` atomically (tmp, fsync, rename, fsync of the dir).
std::string write_atomically(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return "cannot create " + path.parent_path().string() + ": " + ec.message();
  auto tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0)
    return "cannot write " + tmp + ": " + std::strerror(errno);
  std::size_t off = 0;
  while (off < text.size()) {
    auto n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      auto e = std::strerror(errno);
      ::close(fd);
      return "cannot write " + tmp + ": " + e;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return "cannot sync " + tmp + ": " + std::strerror(errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return "cannot rename " + tmp + ": " + std::strerror(errno);
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

} // namespace

caf::result<json> on_reconcile(caf::event_based_actor* self, const state_ptr& st) {
  auto rp = self->make_response_promise<json>();
  run_reconcile(self, st, [rp](caf::expected<json> x) mutable {
    if (x)
      rp.deliver(std::move(*x));
    else
      rp.deliver(x.error());
  });
  return rp;
}

caf::result<json> on_snapshot(caf::event_based_actor* self, const state_ptr& st) {
  if (st->cfg.backup_dir.empty())
    return make_error(errc::unavailable, "no backup dir is configured");
  auto rp = self->make_response_promise<json>();
  run_reconcile(self, st, [self, st, rp](caf::expected<json> x) mutable {
    auto now = st->now();
    std::time_t secs = static_cast<std::time_t>(now / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char date[16];
    std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
    // The day's invoices (UTC) with the reconciliation (or why there is none).
    auto day_start = now - (now % ledger_window::day_ms);
    json invoices = json::array();
    for (auto& stored : st->cfg.store->between(invoices_table, day_start, now + 1, SIZE_MAX))
      if (auto inv = invoice_from_json(stored))
        invoices.push_back(to_json(*load_invoice(st, inv->id)));
    json doc = {{"date", date},
                {"written_at", base::to_iso8601(st->cfg.clock->now())},
                {"invoices", invoices},
                {"reconciliation", x ? *x : json(nullptr)},
                {"reconciliation_error", x ? json(nullptr) : json(message_of(x.error()))}};
    auto text = doc.dump(2) + "\n";
    auto path = std::filesystem::path{st->cfg.backup_dir} / "payments" / (std::string{"recon-"} + date + ".json");
    auto problem = write_atomically(path, text);
    if (!problem.empty()) {
      rp.deliver(make_error(errc::unavailable, "the snapshot was not written: " + problem));
      return;
    }
    json out = {{"file", path.string()}, {"bytes", text.size()}, {"sha256", base::sha256_hex(text)},
                {"invoices", invoices.size()}, {"reconciled", static_cast<bool>(x)}};
    json ev = out;
    ev["event"] = "snapshot";
    st->cfg.store->commit(self, {op::append(stream, ev)}, [rp, out](const caf::error&) mutable { rp.deliver(out); });
  });
  return rp;
}

} // namespace echopilot::payments
