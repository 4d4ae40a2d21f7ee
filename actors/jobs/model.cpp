#include "actors/jobs/model.hpp"

#include "base/clock.hpp"
#include "base/dates.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>
#include <unordered_map>

namespace echopilot::jobs {

using nlohmann::json;

namespace {

constexpr std::int64_t day_ms = 86'400'000;

/// Rounds a / b to the nearest integer (halves away from zero), b > 0.
std::int64_t div_round(__int128 a, __int128 b) {
  auto q = a / b;
  auto r = a % b;
  if (2 * (r < 0 ? -r : r) >= b)
    q += a < 0 ? -1 : 1;
  return static_cast<std::int64_t>(q);
}

json opt_int(const std::optional<int>& x) {
  return x ? json(*x) : json(nullptr);
}

bool is_word_char(unsigned char c) {
  return std::isalnum(c) || c >= 0x80 || c == '\'';
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string w;
  for (unsigned char c : text) {
    if (is_word_char(c)) {
      w += static_cast<char>(std::tolower(c));
    } else if (!w.empty()) {
      out.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty())
    out.push_back(std::move(w));
  return out;
}

/// Sentences: runs of text ended by . ! ? or a line break.
std::vector<std::string> sentences_of(std::string_view text) {
  std::vector<std::string> out;
  std::string s;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!s.empty())
        out.push_back(std::move(s));
      s.clear();
      continue;
    }
    if (s.empty() && std::isspace(static_cast<unsigned char>(c)))
      continue;
    s += c;
    if (c == '.' || c == '!' || c == '?') {
      out.push_back(std::move(s));
      s.clear();
    }
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  if (!s.empty())
    out.push_back(std::move(s));
  return out;
}

const std::set<std::string>& stopwords() {
  static const std::set<std::string> w = {
    "a",    "an",   "and",  "are",  "as",   "at",   "be",   "but",  "by",    "for",  "from",
    "has",  "have", "he",   "her",  "his",  "i",    "if",   "in",   "into",  "is",   "it",
    "its",  "me",   "my",   "no",   "not",  "of",   "on",   "or",   "our",   "she",  "so",
    "than", "that", "the",  "their", "them", "then", "there", "these", "they", "this", "to",
    "was",  "we",   "were", "what", "when", "which", "who",  "will", "with",  "would", "you",
    "your", "can",  "all",  "any",  "do",   "does", "did",  "been", "being", "about", "also",
    "please", "should", "could", "each", "more", "most", "some", "such", "only", "other", "very"};
  return w;
}

/// The `n` most frequent content words, most frequent first (ties: first seen).
std::vector<std::string> key_terms(std::string_view text, std::size_t n) {
  std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> seen; // count, first
  auto words = words_of(text);
  for (std::size_t i = 0; i < words.size(); ++i) {
    auto& w = words[i];
    if (w.size() < 3 || stopwords().count(w) != 0)
      continue;
    auto [it, fresh] = seen.emplace(w, std::make_pair(std::size_t{0}, i));
    ++it->second.first;
  }
  std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>> v(seen.begin(), seen.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) {
    return a.second.first != b.second.first ? a.second.first > b.second.first
                                            : a.second.second < b.second.second;
  });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size() && i < n; ++i)
    out.push_back(v[i].first);
  return out;
}

std::string task_label(const std::string& type) {
  std::string out = type;
  std::replace(out.begin(), out.end(), '_', ' ');
  if (!out.empty())
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

} // namespace

json usd(micros m) {
  // An exact decimal text parsed back: the double nearest to it, which
  // prints as the same six-decimal text.
  char buf[48];
  auto a = m < 0 ? -static_cast<__int128>(m) : static_cast<__int128>(m);
  std::snprintf(buf, sizeof buf, "%s%lld.%06lld", m < 0 ? "-" : "",
                static_cast<long long>(a / 1'000'000), static_cast<long long>(a % 1'000'000));
  return json::parse(buf);
}

json iso_or_null(std::int64_t ms) {
  if (ms <= 0)
    return nullptr;
  return base::to_iso8601(base::time_point{std::chrono::milliseconds{ms}});
}

std::optional<micros> parse_usd(const json& v) {
  constexpr micros max = 1'000'000'000'000; // one million dollars
  std::string text;
  if (v.is_number_unsigned() || v.is_number_integer()) {
    auto x = v.get<std::int64_t>();
    if (x < 0 || x > max / 1'000'000)
      return std::nullopt;
    return x * 1'000'000;
  }
  if (v.is_number_float()) {
    // As its shortest decimal text, so that a number and a string follow the
    // same rule (at most six decimals).
    text = v.dump();
    if (text.find_first_of("eE") != std::string::npos)
      return std::nullopt;
  } else if (v.is_string()) {
    text = v.get<std::string>();
  } else {
    return std::nullopt;
  }
  auto dot = text.find('.');
  auto whole = text.substr(0, dot);
  auto frac = dot == std::string::npos ? std::string{} : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 7 || frac.size() > 6)
    return std::nullopt;
  for (char c : whole + frac)
    if (c < '0' || c > '9')
      return std::nullopt;
  frac.resize(6, '0');
  auto m = std::stoll(whole) * 1'000'000 + std::stoll(frac);
  if (m > max)
    return std::nullopt;
  return m;
}

const char* to_string(below_threshold x) noexcept {
  switch (x) {
    case below_threshold::retry:
      return "retry";
    case below_threshold::review:
      return "review";
    case below_threshold::fail:
      return "fail";
  }
  return "review";
}

std::optional<below_threshold> below_threshold_from(std::string_view s) {
  if (s == "retry")
    return below_threshold::retry;
  if (s == "review")
    return below_threshold::review;
  if (s == "fail")
    return below_threshold::fail;
  return std::nullopt;
}

bool is_final(std::string_view status) noexcept {
  return status == completed || status == failed || status == dead
         || status == cancelled; // -- flow (issue 15)
}

json to_json(const job& j, bool with_result) {
  // Built field by field: an initializer list of pairs would build (and
  // allocate) a two-element array per field before the object; this is
  // on every transition's path (bench/jobs, docs/BENCHMARKS.md).
  json out = json::object();
  auto& o = out.get_ref<json::object_t&>();
  o.emplace("id", j.id);
  o.emplace("correlation_id", j.correlation_id);
  o.emplace("email", j.email);
  o.emplace("task_type", j.task_type);
  o.emplace("title", j.title);
  o.emplace("input", j.input);
  o.emplace("status", j.status);
  o.emplace("attempts", j.attempts);
  o.emplace("attempts_base", j.attempts_base);
  o.emplace("created_at", iso_or_null(j.created_ms));
  o.emplace("updated_at", iso_or_null(j.updated_ms));
  o.emplace("finished_at", iso_or_null(j.finished_ms));
  o.emplace("created_ms", j.created_ms);
  o.emplace("updated_ms", j.updated_ms);
  o.emplace("finished_ms", j.finished_ms);
  o.emplace("not_before_ms", j.not_before_ms);
  o.emplace("lease_until_ms", j.lease_until_ms);
  o.emplace("qa_target", opt_int(j.qa_target));
  o.emplace("rate_usd_per_min", usd(j.rate_per_min));
  o.emplace("rate_micros_per_min", j.rate_per_min);
  o.emplace("worker", j.worker);
  o.emplace("processor", j.processor);
  o.emplace("model", j.model);
  o.emplace("tokens_in", j.tokens_in);
  o.emplace("tokens_out", j.tokens_out);
  o.emplace("qa_tokens_in", j.qa_tokens_in);
  o.emplace("qa_tokens_out", j.qa_tokens_out);
  o.emplace("duration_ms", j.duration_us / 1000);
  o.emplace("duration_us", j.duration_us);
  o.emplace("qa_score", opt_int(j.qa_score));
  o.emplace("qa_by", j.qa_by);
  o.emplace("qa_passed", j.qa_passed);
  o.emplace("needs_review", j.needs_review);
  o.emplace("cost_usd", usd(j.cost));
  o.emplace("price_usd", usd(j.price));
  o.emplace("profit_usd", usd(j.price - j.cost));
  o.emplace("cost_micros", j.cost);
  o.emplace("price_micros", j.price);
  o.emplace("payment_status", j.payment_status);
  o.emplace("payment", j.payment);
  o.emplace("last_error", j.last_error);
  o.emplace("warnings", j.warnings);
  // -- dead letter (issue 15)
  o.emplace("heals", j.heals);
  o.emplace("dead_reason", j.dead_reason.empty() ? json(nullptr) : json(j.dead_reason));
  // -- flags (issue 15)
  o.emplace("pricing_variant", j.pricing_variant.empty() ? json(nullptr) : json(j.pricing_variant));
  if (with_result)
    out["result"] = j.result;
  add_flow_fields(j, out); // -- flow (issue 15)
  return out;
}

json worker_view(const job& j) {
  return {{"id", j.id},         {"email", j.email}, {"task_type", j.task_type}, {"title", j.title},
          {"input", j.input},   {"status", j.status}, {"attempts", j.attempts}};
}

void read_result(const json& v, job& j) {
  j.processor = v.value("processor", "");
  j.model = v.value("model", "");
  j.result = v.value("result", "");
  j.tokens_in = v.value("tokens_in", std::uint64_t{0});
  j.tokens_out = v.value("tokens_out", std::uint64_t{0});
  j.qa_tokens_in = v.value("qa_tokens_in", std::uint64_t{0});
  j.qa_tokens_out = v.value("qa_tokens_out", std::uint64_t{0});
  j.duration_us = v.value("duration_us", std::int64_t{0});
  j.qa_by = v.value("qa_by", "");
}

std::optional<job> job_from_json(const json& v) {
  if (!v.is_object())
    return std::nullopt;
  try {
    job j;
    j.id = v.at("id").get<std::string>();
    j.correlation_id = v.value("correlation_id", "");
    j.email = v.at("email").get<std::string>();
    j.task_type = v.at("task_type").get<std::string>();
    j.title = v.value("title", "");
    j.input = v.at("input").get<std::string>();
    j.status = v.at("status").get<std::string>();
    j.attempts = v.value("attempts", 0u);
    j.attempts_base = v.value("attempts_base", 0u);
    j.created_ms = v.value("created_ms", std::int64_t{0});
    j.updated_ms = v.value("updated_ms", std::int64_t{0});
    j.finished_ms = v.value("finished_ms", std::int64_t{0});
    j.not_before_ms = v.value("not_before_ms", std::int64_t{0});
    j.lease_until_ms = v.value("lease_until_ms", std::int64_t{0});
    if (auto q = v.find("qa_target"); q != v.end() && q->is_number_integer())
      j.qa_target = q->get<int>();
    j.rate_per_min = v.value("rate_micros_per_min", micros{0});
    j.worker = v.value("worker", "");
    read_result(v, j);
    if (auto q = v.find("qa_score"); q != v.end() && q->is_number_integer())
      j.qa_score = q->get<int>();
    j.qa_passed = v.value("qa_passed", false);
    j.needs_review = v.value("needs_review", false);
    j.cost = v.value("cost_micros", micros{0});
    j.price = v.value("price_micros", micros{0});
    j.payment_status = v.value("payment_status", "unpaid");
    j.payment = v.value("payment", json(nullptr));
    j.last_error = v.value("last_error", json(nullptr));
    j.warnings = v.value("warnings", std::vector<std::string>{});
    read_flow_fields(v, j); // -- flow (issue 15)
    // -- dead letter (issue 15): absent in jobs stored before it
    j.heals = v.value("heals", 0u);
    if (auto r = v.find("dead_reason"); r != v.end() && r->is_string())
      j.dead_reason = r->get<std::string>();
    // -- flags (issue 15)
    if (auto pv = v.find("pricing_variant"); pv != v.end() && pv->is_string())
      j.pricing_variant = pv->get<std::string>();
    return j;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string make_job_id(std::int64_t created_ms, std::uint64_t random) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "j%012llx-%06llx",
                static_cast<unsigned long long>(created_ms < 0 ? 0 : created_ms),
                static_cast<unsigned long long>(random & 0xffffff));
  return buf;
}

bool looks_like_job_id(std::string_view s) {
  if (s.size() != 20 || s[0] != 'j' || s[13] != '-')
    return false;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (i != 13 && !std::isxdigit(static_cast<unsigned char>(s[i])))
      return false;
  return true;
}

bool valid_email(std::string_view e) {
  if (e.size() < 3 || e.size() > 254)
    return false;
  auto at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos)
    return false;
  auto domain = e.substr(at + 1);
  auto dot = domain.find('.');
  if (dot == std::string_view::npos || dot == 0 || domain.back() == '.')
    return false;
  for (unsigned char c : e)
    if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';')
      return false;
  return true;
}

std::variant<job, invalid> make_job(const json& body, const jobs_config& cfg, std::int64_t now_ms,
                                    std::string id, std::string correlation_id) {
  auto bad = [](std::string m) { return invalid{errc::invalid_argument, std::move(m)}; };
  if (!body.is_object())
    return bad("the body must be a JSON object");
  static const std::set<std::string> known = {"email", "task_type",        "input", "title",
                                              "qa_target", "rate_usd_per_min", "client_email",
                                              // -- flow (issue 15)
                                              "priority", "deadline", "client", "owner_email", "notes",
                                              "webhook_url"};
  for (auto& [k, v] : body.items()) {
    static_cast<void>(v);
    if (known.count(k) == 0)
      return bad("unknown field '" + k + "'");
  }
  auto text = [&](const char* name, bool required, std::string& out) -> std::optional<invalid> {
    auto i = body.find(name);
    if (i == body.end() || i->is_null()) {
      if (required)
        return bad(std::string{"the body needs the field '"} + name + "'");
      return std::nullopt;
    }
    if (!i->is_string())
      return bad(std::string{"the field '"} + name + "' must be a string, not " + i->type_name());
    out = i->get<std::string>();
    return std::nullopt;
  };
  job j;
  std::string email;
  if (auto e = text("email", false, email))
    return *e;
  if (email.empty())
    if (auto e = text("client_email", false, email))
      return *e;
  if (email.empty())
    return bad("the body needs the field 'email'");
  if (!valid_email(email))
    return bad("the field 'email' is not an email address: '" + email.substr(0, 80) + "'");
  j.email = email;
  if (auto e = text("task_type", true, j.task_type))
    return *e;
  if (cfg.task_types.count(j.task_type) == 0) {
    std::string names;
    for (auto& [name, threshold] : cfg.task_types) {
      static_cast<void>(threshold);
      names += (names.empty() ? "" : ", ") + name;
    }
    return invalid{errc::rule_violation,
                   "the field 'task_type' must be one of " + names + ", not '"
                     + j.task_type.substr(0, 40) + "'"};
  }
  if (auto e = text("input", true, j.input))
    return *e;
  if (j.input.find_first_not_of(" \t\r\n") == std::string::npos)
    return bad("the field 'input' must not be empty");
  if (j.input.size() > cfg.max_input_bytes)
    return invalid{errc::rule_violation, "the field 'input' has " + std::to_string(j.input.size())
                                           + " bytes; at most " + std::to_string(cfg.max_input_bytes)
                                           + " are allowed"};
  if (auto e = text("title", false, j.title))
    return *e;
  if (j.title.size() > 200)
    return bad("the field 'title' must have at most 200 bytes");
  if (auto q = body.find("qa_target"); q != body.end() && !q->is_null()) {
    if (!q->is_number_integer() || q->get<std::int64_t>() < 0 || q->get<std::int64_t>() > 100)
      return bad("the field 'qa_target' must be a whole number from 0 to 100");
    j.qa_target = q->get<int>();
  }
  if (auto r = body.find("rate_usd_per_min"); r != body.end() && !r->is_null()) {
    auto m = parse_usd(*r);
    if (!m || *m == 0)
      return bad("the field 'rate_usd_per_min' must be a positive amount with at most six decimals");
    j.rate_per_min = *m;
  }
  // -- flow (issue 15)
  if (auto e = read_flow_submission(body, j, now_ms))
    return *e;
  j.id = std::move(id);
  j.correlation_id = std::move(correlation_id);
  j.status = queued;
  j.created_ms = j.updated_ms = now_ms;
  return j;
}

micros cost_of(const model_price& p, std::uint64_t tokens_in, std::uint64_t tokens_out) {
  __int128 total = static_cast<__int128>(p.input_per_million) * tokens_in
                   + static_cast<__int128>(p.output_per_million) * tokens_out;
  return div_round(total, 1'000'000);
}

micros price_of(micros rate_per_min, std::int64_t duration_us) {
  return div_round(static_cast<__int128>(rate_per_min) * (duration_us < 0 ? 0 : duration_us),
                   60'000'000);
}

std::uint64_t estimate_tokens(std::string_view text) {
  return std::max<std::uint64_t>(1, (text.size() + 3) / 4);
}

std::string process_system_prompt() {
  return "You are an AI automation assistant. Complete tasks accurately and professionally.";
}

local_output local_process(const job& j) {
  auto sentences = sentences_of(j.input);
  auto words = words_of(j.input);
  auto terms = key_terms(j.input, 5);
  std::string out = task_label(j.task_type) + " (local processor: no model is configured)\n\n";
  std::size_t keep = j.task_type == "summarize" ? std::max<std::size_t>(1, (sentences.size() + 2) / 3)
                                                : std::min<std::size_t>(3, sentences.size());
  out += "Summary: ";
  for (std::size_t i = 0; i < keep && i < sentences.size(); ++i)
    out += (i == 0 ? "" : " ") + sentences[i];
  out += "\n\nKey terms: ";
  for (std::size_t i = 0; i < terms.size(); ++i)
    out += (i == 0 ? "" : ", ") + terms[i];
  if (terms.empty())
    out += "none found";
  out += ".\n\nThe input has " + std::to_string(words.size()) + " words in "
         + std::to_string(sentences.size()) + " sentences.";
  local_output r;
  r.tokens_in = estimate_tokens(process_system_prompt()) + estimate_tokens(j.input);
  r.tokens_out = estimate_tokens(out);
  r.text = std::move(out);
  return r;
}

int local_score(std::string_view input, std::string_view output) {
  auto out_words = words_of(output);
  if (out_words.empty())
    return 0;
  // Clarity (30): sentences of 8-30 words read well.
  auto sentences = sentences_of(output);
  double avg = static_cast<double>(out_words.size()) / static_cast<double>(std::max<std::size_t>(1, sentences.size()));
  double clarity = avg >= 8 && avg <= 30 ? 30.0 : avg < 8 ? 30.0 * avg / 8.0 : 30.0 * 30.0 / avg;
  // Relevance (30): the input's key terms found in the output.
  auto terms = key_terms(input, 10);
  std::set<std::string> present(out_words.begin(), out_words.end());
  std::size_t hits = 0;
  for (auto& t : terms)
    hits += present.count(t);
  double relevance = terms.empty() ? 30.0 : 30.0 * static_cast<double>(hits) / static_cast<double>(terms.size());
  // Completeness (20): enough text for the input (a quarter of it, at least
  // 200 bytes, at most 2,000 asked).
  double want = std::clamp(static_cast<double>(input.size()) / 4.0, 200.0, 2000.0);
  double completeness = 20.0 * std::min(1.0, static_cast<double>(output.size()) / want);
  // Tone (20): no shouting; each exclamation mark or capitalised word of
  // four letters or more costs 2.
  int shouting = 0;
  std::string word;
  auto flush = [&] {
    if (word.size() >= 4 && std::all_of(word.begin(), word.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); }))
      ++shouting;
    word.clear();
  };
  for (char c : output) {
    if (c == '!')
      ++shouting;
    if (std::isalpha(static_cast<unsigned char>(c)))
      word += c;
    else
      flush();
  }
  flush();
  double tone = std::max(0.0, 20.0 - 2.0 * shouting);
  return static_cast<int>(std::lround(std::clamp(clarity + relevance + completeness + tone, 0.0, 100.0)));
}

std::string qa_system_prompt() {
  return "You are a strict quality reviewer. Score the output from 0 to 100 with this rubric: "
         "clarity 30, accuracy and relevance to the task 30, completeness 20, professional tone 20. "
         "Answer only with JSON: {\"score\": <0-100>, \"reason\": \"<one sentence>\"}.";
}

std::string qa_user_prompt(const job& j, std::string_view output) {
  auto head = output.substr(0, std::min<std::size_t>(output.size(), 1000));
  auto task = j.input.substr(0, std::min<std::size_t>(j.input.size(), 1000));
  return "Task type: " + j.task_type + "\nTask:\n" + task + "\n\nOutput to score:\n" + std::string{head};
}

std::optional<int> parse_score(std::string_view text) {
  auto number_at = [&](std::size_t i) -> std::optional<int> {
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    if (i >= text.size())
      return std::nullopt;
    int v = 0;
    std::size_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && n < 4) {
      v = v * 10 + (text[i] - '0');
      ++i;
      ++n;
    }
    if (v > 100)
      return std::nullopt;
    return v;
  };
  std::string lower(text);
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto p = lower.find("score"); p != std::string::npos)
    if (auto v = number_at(p + 5))
      return v;
  return number_at(0);
}

json to_json(const day_totals& d) {
  return {{"created", d.created}, {"completed", d.completed}, {"failed", d.failed},
          {"dead", d.dead},       {"revenue", d.revenue},     {"cost", d.cost},
          {"qa_sum", d.qa_sum},   {"qa_count", d.qa_count}};
}

day_totals day_totals_from_json(const json& j) {
  day_totals d;
  if (!j.is_object())
    return d;
  d.created = j.value("created", std::uint64_t{0});
  d.completed = j.value("completed", std::uint64_t{0});
  d.failed = j.value("failed", std::uint64_t{0});
  d.dead = j.value("dead", std::uint64_t{0});
  d.revenue = j.value("revenue", micros{0});
  d.cost = j.value("cost", micros{0});
  d.qa_sum = j.value("qa_sum", std::int64_t{0});
  d.qa_count = j.value("qa_count", std::uint64_t{0});
  return d;
}

std::string utc_date(std::int64_t unix_ms) {
  return base::utc_date(unix_ms);
}

void add_final(day_map& days, const job& j) {
  auto& d = days[utc_date(j.finished_ms)];
  if (j.status == completed) {
    ++d.completed;
    d.revenue += j.price;
    if (j.qa_score) {
      d.qa_sum += *j.qa_score;
      ++d.qa_count;
    }
  } else if (j.status == failed) {
    ++d.failed;
  } else if (j.status == dead) {
    ++d.dead;
  }
}

void add_cost(day_map& days, std::int64_t at_ms, micros cost) {
  if (cost != 0)
    days[utc_date(at_ms)].cost += cost;
}

namespace {

/// Sums of the `n` days ending today.
day_totals window(const day_map& days, std::int64_t now_ms, int n) {
  day_totals s;
  for (int k = 0; k < n; ++k) {
    auto i = days.find(utc_date(now_ms - k * day_ms));
    if (i == days.end())
      continue;
    auto& d = i->second;
    s.created += d.created;
    s.completed += d.completed;
    s.failed += d.failed;
    s.dead += d.dead;
    s.revenue += d.revenue;
    s.cost += d.cost;
    s.qa_sum += d.qa_sum;
    s.qa_count += d.qa_count;
  }
  return s;
}

json avg_qa(const day_totals& d) {
  if (d.qa_count == 0)
    return nullptr;
  // One decimal.
  return static_cast<double>(div_round(d.qa_sum * 10, static_cast<std::int64_t>(d.qa_count))) / 10.0;
}

} // namespace

json finance_metrics(const day_map& days, std::int64_t now_ms) {
  auto w7 = window(days, now_ms, 7);
  auto w30 = window(days, now_ms, 30);
  json roi = nullptr;
  if (w30.cost > 0)
    roi = static_cast<double>(div_round(static_cast<__int128>(w30.revenue - w30.cost) * 10000, w30.cost)) / 100.0;
  return {{"revenue_7d", usd(w7.revenue)},
          {"cost_7d", usd(w7.cost)},
          {"profit_7d", usd(w7.revenue - w7.cost)},
          {"revenue_30d", usd(w30.revenue)},
          {"cost_30d", usd(w30.cost)},
          {"profit_30d", usd(w30.revenue - w30.cost)},
          {"roi_30d", roi},
          {"jobs_7d", w7.created},
          {"jobs_30d", w30.created},
          {"completed_7d", w7.completed},
          {"completed_30d", w30.completed},
          {"failed_30d", w30.failed},
          {"dead_30d", w30.dead},
          {"avg_qa_7d", avg_qa(w7)},
          {"avg_qa_30d", avg_qa(w30)},
          {"as_of", utc_date(now_ms)},
          {"currency", "USD"}};
}

json metrics_summary(const day_map& days, std::int64_t now_ms) {
  json jobs = json::array();
  json qa = json::array();
  json money = json::array();
  for (int k = 13; k >= 0; --k) {
    auto date = utc_date(now_ms - k * day_ms);
    auto i = days.find(date);
    day_totals d = i != days.end() ? i->second : day_totals{};
    if (k < 7) {
      jobs.push_back({{"date", date}, {"count", d.completed}, {"created", d.created}});
      qa.push_back({{"date", date}, {"avg_qa", avg_qa(d)}, {"scored", d.qa_count}});
    }
    money.push_back({{"date", date}, {"revenue", usd(d.revenue)}, {"cost", usd(d.cost)}});
  }
  return {{"jobs_per_day", std::move(jobs)},
          {"qa_per_day", std::move(qa)},
          {"revenue_cost_per_day", std::move(money)}};
}

json model_spend(const day_map& days, std::int64_t now_ms) {
  auto date = utc_date(now_ms);
  auto i = days.find(date);
  return {{"date", date}, {"usd", usd(i != days.end() ? i->second.cost : 0)}};
}

} // namespace echopilot::jobs
