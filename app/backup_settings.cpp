#include "app/backup_settings.hpp"

namespace echopilot::app {

using nlohmann::json;

json settings_without_secrets(const settings& s) {
  auto set = [](const std::string& v) { return v.empty() ? "unset" : "set"; };
  json tasks = json::array();
  for (auto& t : s.scheduler.tasks)
    tasks.push_back({{"id", t.id}, {"schedule", t.schedule}, {"target", t.target}, {"paused", t.paused},
                     {"available", t.available}});
  return {
    {"config", s.config},
    {"data_dir", s.data_dir},
    {"backup_dir", backup_dir_of(s)},
    {"backup", {{"keep_daily", s.backup_keep_daily}, {"keep_weekly", s.backup_keep_weekly}}},
    {"bind", s.bind},
    {"port", s.port},
    {"public_url", public_url_of(s)},
    {"region", s.region},
    {"cluster_port", s.cluster_port ? json(*s.cluster_port) : json(nullptr)},
    {"cluster_bind", s.cluster_bind},
    {"peers", s.peers},
    {"http_threads", s.http_threads},
    {"body_limit", s.body_limit},
    {"request_timeout_ms", s.request_timeout.count()},
    {"max_connections", s.max_connections},
    {"max_connections_per_address", s.max_connections_per_address},
    {"drain_timeout_ms", s.drain_timeout.count()},
    {"flags_defaults", s.flags_defaults},
    {"experiments_file", s.experiments.file},
    {"web_root", s.web_root},
    {"fault_injection", s.fault_injection},
    {"portal_link_hours", s.portal_link_hours},
    {"openai_base_url", s.openai.base_url},
    {"telegram_api_base", s.telegram.api_base},
    {"stripe", {{"mode", s.payments.live ? "live" : "test"}, {"api_base", s.payments.api_base}}},
    {"smtp", {{"host", s.email.smtp.host}, {"port", s.email.smtp.port}, {"from", s.email.smtp.from}}},
    {"imap", {{"host", s.imap.host}, {"port", s.imap.port}, {"mailbox", s.imap.mailbox}}},
    {"guard_enabled", s.guard.enabled},
    {"slo_record", s.slo_record},
    {"scheduler_tasks", std::move(tasks)},
    {"secrets",
     {{"DASHBOARD_KEY", set(s.dashboard_key)},
      {"SESSION_SECRET", set(s.session_secret)},
      {"ECHOPILOT_CLUSTER_SECRET", set(s.cluster_secret)},
      {"AI_INTEGRATIONS_OPENAI_API_KEY", set(s.openai.api_key)},
      {"TELEGRAM_BOT_TOKEN", set(s.telegram.token)},
      {"STRIPE_SECRET_KEY", set(s.payments.secret_key)},
      {"STRIPE_WEBHOOK_SECRET", set(s.payments.webhook_secret)},
      {"ECHOPILOT_WEBHOOK_SECRET", set(s.webhooks.job_secret)},
      {"SMTP_PASS", set(s.email.smtp.pass)},
      {"IMAP_PASS", set(s.imap.pass)}}},
  };
}

} // namespace echopilot::app
