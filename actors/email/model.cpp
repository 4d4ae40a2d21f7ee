// email (issue 16): the outbox's pure part (actors/email/email_actor.hpp).
#include <algorithm>
#include <cctype>
#include <cstdio>

#include "actors/email/email_actor.hpp"
#include "base/crypto.hpp"

namespace echopilot::email {

using nlohmann::json;
using namespace std::chrono;

namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string str(const json& j, const char* k) {
  auto i = j.find(k);
  return i != j.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

} // namespace

std::string new_message_id(std::int64_t now_ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "e%014lld.", static_cast<long long>(std::max<std::int64_t>(0, now_ms)));
  return buf + base::random_hex(6);
}

milliseconds backoff(std::uint32_t attempt, milliseconds base, milliseconds max) {
  auto n = std::min<std::uint32_t>(attempt == 0 ? 0 : attempt - 1, 30);
  auto wait = base * (std::int64_t{1} << n);
  return std::min(wait, max);
}

json view_of(const json& record) {
  json v = record;
  if (auto m = v.find("mime"); m != v.end()) {
    v["size_bytes"] = m->is_string() ? m->get_ref<const std::string&>().size() : 0;
    v.erase("mime");
  }
  return v;
}

std::optional<composed> receipt_for(const json& invoice) {
  if (!invoice.is_object())
    return std::nullopt;
  auto email = str(invoice, "email");
  auto id = str(invoice, "id");
  if (email.empty() || id.empty())
    return std::nullopt;
  auto cents = invoice.value("amount_cents", std::int64_t{0});
  auto currency = str(invoice, "currency");
  for (auto& c : currency)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  char amount[64];
  std::snprintf(amount, sizeof amount, "%lld.%02lld %s", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100), currency.empty() ? "USD" : currency.c_str());
  auto job = str(invoice, "job_id");
  composed c;
  c.to = email;
  c.key = "receipt." + id;
  c.subject = "Receipt for your payment of " + std::string{amount};
  c.text = "Thank you for your payment.\n\nAmount: " + std::string{amount} + "\nInvoice: " + id
           + (job.empty() ? std::string{} : "\nJob: " + job) + "\n\nEchoPilot\n";
  c.html = "<p>Thank you for your payment.</p><table><tr><td>Amount</td><td>" + html_escape(amount)
           + "</td></tr><tr><td>Invoice</td><td>" + html_escape(id) + "</td></tr>"
           + (job.empty() ? std::string{} : "<tr><td>Job</td><td>" + html_escape(job) + "</td></tr>")
           + "</table><p>EchoPilot</p>";
  return c;
}

std::optional<composed> job_notice_for(const json& job) {
  if (!job.is_object() || job.value("status", "") != "completed")
    return std::nullopt;
  auto email = str(job, "email");
  auto id = str(job, "id");
  if (email.empty() || id.empty())
    return std::nullopt;
  auto title = str(job, "title").substr(0, 120);
  for (auto& ch : title) // a title is the client's text: one line in a subject
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F)
      ch = ' ';
  composed c;
  c.to = email;
  c.key = "job." + id;
  c.subject = "Your job is complete" + (title.empty() ? std::string{} : ": " + title);
  c.text = "Your job " + id + (title.empty() ? std::string{} : " (" + title + ")")
           + " is complete. Its result is in your portal.\n\nEchoPilot\n";
  c.html = "<p>Your job <b>" + html_escape(id) + "</b>"
           + (title.empty() ? std::string{} : " (" + html_escape(title) + ")")
           + " is complete. Its result is in your portal.</p><p>EchoPilot</p>";
  return c;
}

} // namespace echopilot::email
