#include "http/portal_routes.hpp"

#include <algorithm>
#include <optional>
#include <mutex>

#include <caf/make_message.hpp>

#include "actors/portal/link.hpp"
#include "http/route_input.hpp"
#include "http/static_files.hpp"
#include "protocol/jobs.hpp"
#include "protocol/payments.hpp"
#include "protocol/portal.hpp"
#include "supervision/errors.hpp"

namespace echopilot::http {

using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr std::size_t kib = 1024;

/// Records an event of the stream "portal" (fire and forget: a portal
/// actor that is down costs the event, never the request).
void record(const route_context& ctx, json event) {
  ctx.calls->call(portal::actor_id, caf::make_message(portal::event_atom::value, std::move(event)),
                  ctx.timeout, [](caf::expected<json>) {});
}

std::int64_t now_s(const route_context& ctx) {
  return ctx.clock->now_ms() / 1000;
}

std::string query_or_empty(const request& req, const char* name) {
  auto v = req.query_param(name);
  return v != nullptr ? *v : std::string{};
}

/// The link's check; a refusal is recorded (reason, never the signature).
portal::check_result check_link(const route_context& ctx, const request& req) {
  auto email = query_or_empty(req, "e");
  auto r = portal::verify(ctx.portal.secret, email, query_or_empty(req, "exp"), query_or_empty(req, "sig"),
                          now_s(ctx));
  if (r.v != portal::verdict::valid)
    record(ctx, {{"kind", "link_refused"},
                 {"reason", r.reason},
                 {"status", portal::status_of(r.v)},
                 {"path", req.path},
                 {"remote_ip", req.remote_ip}});
  return r;
}

/// The JSON refusal of a link (no client data).
response link_refusal(portal::verdict v) {
  if (v == portal::verdict::expired)
    return fail(410, "link_expired", "this portal link has expired: ask for a new one");
  return fail(403, "invalid_link", "this portal link is not valid");
}

/// A small page for a refused link (no client data, no script).
response page_refusal(portal::verdict v) {
  bool expired = v == portal::verdict::expired;
  std::string title = expired ? "Link expired" : "Link not valid";
  std::string text = expired ? "This portal link has expired. Ask us for a new one."
                             : "This portal link is not valid. Check that you copied it whole, or ask us for a new one.";
  response r;
  r.status = expired ? 410 : 403;
  r.content_type = "text/html; charset=utf-8";
  r.body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title
           + "</title><link rel=\"stylesheet\" href=\"/portal/assets/style.css\"></head><body><main class=\"portal-refused\"><h1>"
           + title + "</h1><p>" + text + "</p></main></body></html>";
  return r;
}

/// Stripe's return (`/portal?job=ID&status=success|cancelled`, the payments
/// actor's success and cancel URLs) carries no link: a small page that says
/// what happened and shows nothing of the client's.
std::optional<response> checkout_return(const request& req) {
  auto status = req.query_param("status");
  if (req.query_param("e") != nullptr || req.query_param("sig") != nullptr || status == nullptr
      || req.query_param("job") == nullptr || (*status != "success" && *status != "cancelled"))
    return std::nullopt;
  bool paid = *status == "success";
  std::string title = paid ? "Thank you" : "Payment cancelled";
  std::string text = paid ? "Your payment went through. It shows as paid in your portal once Stripe confirms it; "
                            "open your portal link to see it."
                          : "The payment was cancelled and nothing was charged. You can pay from your portal link "
                            "at any time.";
  response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title
           + "</title><link rel=\"stylesheet\" href=\"/portal/assets/style.css\"></head><body><main "
             "class=\"portal-refused\"><h1 id=\"checkout-title\">"
           + title + "</h1><p>" + text + "</p></main></body></html>";
  return r;
}

/// Runs `next(email)` for a request whose link holds; answers 403/410 else.
handler_fn with_link(const route_context& ctx, std::function<void(const std::string&, request&, respond_fn)> next) {
  return [ctx, next = std::move(next)](request& req, respond_fn respond) {
    auto r = check_link(ctx, req);
    if (r.v != portal::verdict::valid)
      return respond(link_refusal(r.v));
    next(*req.query_param("e"), req, std::move(respond));
  };
}

/// What a client sees of a job (no internals: no worker, tokens or costs).
json client_job(const json& j) {
  json out = json::object();
  for (auto k : {"id", "title", "task_type", "status", "result", "payment_status", "qa_score", "qa_passed",
                 "price_usd", "created_at", "finished_at"})
    if (auto i = j.find(k); i != j.end())
      out[k] = *i;
  return out;
}

/// At most this many results are fetched for one list.
constexpr std::size_t max_results = 25;

/// Answers collected from several calls; the last one responds.
struct gathering {
  std::mutex mtx;
  json data;
  json warnings = json::array();
  std::size_t pending = 0;
  respond_fn respond;

  void done() {
    std::unique_lock<std::mutex> lock{mtx};
    if (--pending != 0)
      return;
    auto d = std::move(data);
    auto w = std::move(warnings);
    lock.unlock();
    respond(w.empty() ? ok(std::move(d)) : ok(std::move(d), 200, {{"warnings", std::move(w)}}));
  }
};

/// A portal actor's answer: its own refusal as that status, else `ok`.
response portal_answer(json& answer, int status = 200) {
  if (auto r = answer.find("refused"); r != answer.end())
    return fail(r->value("status", 400), r->value("code", "refused"), r->value("message", ""));
  return ok(std::move(answer), status);
}

/// The answer of a link route: data.url and, as the original did, url,
/// full_url and expires_at at the top level.
response link_answer(const route_context& ctx, const std::string& email, std::uint64_t hours, const char* via) {
  auto exp = now_s(ctx) + static_cast<std::int64_t>(hours) * 3600;
  auto path = portal::link_path(ctx.portal.secret, email, exp);
  auto full = ctx.portal.public_url->get() + path;
  auto expires_at = base::to_iso8601(base::time_point{seconds{exp}});
  record(ctx, {{"kind", "link_issued"}, {"email", email}, {"exp", exp}, {"hours", hours}, {"via", via}});
  return ok({{"url", path}, {"full_url", full}, {"expires_at", expires_at}, {"exp", exp}, {"email", email}}, 200,
            {{"url", path}, {"full_url", full}, {"expires_at", expires_at}});
}

/// expiry_hours from `v` (absent or null: the default), 1 to max_link_hours.
std::variant<std::uint64_t, response> hours_of(const route_context& ctx, const json* v) {
  if (v == nullptr || v->is_null())
    return std::uint64_t{ctx.portal.link_hours};
  if (!v->is_number_unsigned() || v->get<std::uint64_t>() < 1 || v->get<std::uint64_t>() > portal::max_link_hours)
    return fail(400, "invalid_field",
                "'expiry_hours' must be a whole number from 1 to " + std::to_string(portal::max_link_hours));
  return v->get<std::uint64_t>();
}

bool valid_referral(const std::string& code) {
  if (code.size() != 9 || code.compare(0, 3, "EP-") != 0)
    return false;
  for (std::size_t i = 3; i < code.size(); ++i)
    if (!((code[i] >= '0' && code[i] <= '9') || (code[i] >= 'A' && code[i] <= 'F')))
      return false;
  return true;
}

} // namespace

void add_portal_routes(const route_context& ctx, const add_route_fn& add) {
  // -- issuing links (admin) --
  {
    auto& r = add(method::post, "/api/portal/link", auth_level::admin, "gateway",
                  "Issues a signed portal link: {\"email\", \"expiry_hours\"? (1-720; default "
                  "portal.link_ttl_hours)}; data.url (the path /portal?e=&exp=&sig=) and, at the top "
                  "level, url, full_url, expires_at.",
                  [ctx](request& req, respond_fn respond) {
                    auto email = string_field(req, "email");
                    if (auto* bad = std::get_if<response>(&email))
                      return respond(std::move(*bad));
                    auto& e = std::get<std::string>(email);
                    if (!portal::valid_email(e))
                      return respond(fail(400, "invalid_field", "'email' must be an email address"));
                    auto f = req.json.find("expiry_hours");
                    auto hours = hours_of(ctx, f == req.json.end() ? nullptr : &*f);
                    if (auto* bad = std::get_if<response>(&hours))
                      return respond(std::move(*bad));
                    respond(link_answer(ctx, e, std::get<std::uint64_t>(hours), "api"));
                  });
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
  }
  add(method::get, "/api/customer/signed-url/{email}", auth_level::admin, "gateway",
      "A signed portal link for the email (?expiry_hours=1-720); answers as POST /api/portal/link.",
      [ctx](request& req, respond_fn respond) {
        auto& e = *req.param("email");
        if (!portal::valid_email(e))
          return respond(fail(400, "invalid_path", "the path must end in an email address"));
        auto h = uint_param(req, "expiry_hours", ctx.portal.link_hours, portal::max_link_hours);
        if (auto* bad = std::get_if<response>(&h))
          return respond(std::move(*bad));
        if (std::get<std::uint64_t>(h) == 0)
          return respond(fail(400, "invalid_query", "the query parameter 'expiry_hours' must be from 1 to 720"));
        respond(link_answer(ctx, e, std::get<std::uint64_t>(h), "signed-url"));
      });

  // -- the page (public behind a link) and its assets --
  auto files = std::make_shared<static_files>(ctx.web_root);
  {
    auto& r = add(method::get, "/portal", auth_level::open, "gateway",
                  "The client portal page, with a signed link (?e=&exp=&sig=): 403 for a changed link, "
                  "410 for an expired one, neither with client data. Without a link, ?job=&status=success|"
                  "cancelled (the return from checkout) is a short page saying so.",
                  [ctx, files](request& req, respond_fn respond) {
                    if (auto back = checkout_return(req))
                      return respond(std::move(*back));
                    auto r = check_link(ctx, req);
                    if (r.v != portal::verdict::valid)
                      return respond(page_refusal(r.v));
                    respond(files->serve("portal.html", nullptr));
                  });
    r.produces = "text/html";
    r.rate = {120, seconds{60}};
  }
  add(method::get, "/portal/assets/{file}", auth_level::open, "gateway",
      "A file of the portal page (portal.js, format.js, style.css, favicon.svg).",
      [files](request& req, respond_fn respond) {
        static const char* allowed[] = {"portal.js", "format.js", "style.css", "favicon.svg"};
        auto& f = *req.param("file");
        if (std::find(std::begin(allowed), std::end(allowed), f) == std::end(allowed))
          return respond(fail(404, "not_found", "no portal asset '" + f.substr(0, 64) + "'"));
        respond(files->serve(f, req.header("if-none-match")));
      })
    .produces = "application/octet-stream";

  // -- the portal API: the link's email only --
  auto timeout = ctx.timeout;
  add(method::get, "/api/portal/jobs", auth_level::open, jobs::queue_id,
      "The link's client's jobs (status, result, payment_status, QA, price) and invoices; authorised "
      "by the link (?e=&exp=&sig=) alone.",
      with_link(ctx, [ctx, timeout](const std::string& email, request&, respond_fn respond) {
        json filter = {{"email", email}, {"limit", 100}};
        ctx.calls->call(
          jobs::queue_id, caf::make_message(jobs::list_atom::value, filter), timeout,
          [ctx, timeout, email, respond](caf::expected<json> listed) {
            if (!listed)
              return respond(error_response(listed.error()));
            // The list shows no results: the newest completed jobs' come
            // from one get each, asked together with the invoices.
            auto g = std::make_shared<gathering>();
            g->respond = respond;
            g->data = {{"email", email}, {"jobs", json::array()}, {"invoices", json::array()}};
            std::vector<std::pair<std::size_t, std::string>> wanted;
            for (auto& j : listed->value("jobs", json::array()))
              if (j.value("email", "") == email) { // the filter's, checked again
                if (j.value("status", "") == "completed" && wanted.size() < max_results)
                  wanted.emplace_back(g->data["jobs"].size(), j.value("id", ""));
                g->data["jobs"].push_back(client_job(j));
              }
            g->pending = wanted.size() + 1;
            for (auto& [index, id] : wanted)
              ctx.calls->call(jobs::queue_id, caf::make_message(get_atom::value, id), timeout,
                              [g, index = index](caf::expected<json> job) {
                                {
                                  std::lock_guard<std::mutex> lock{g->mtx};
                                  if (job)
                                    g->data["jobs"][index]["result"] = job->value("result", json(nullptr));
                                }
                                g->done();
                              });
            ctx.calls->call(payments::actor_id, caf::make_message(payments::invoices_atom::value, email), timeout,
                            [g, email](caf::expected<json> inv) {
                              {
                                std::lock_guard<std::mutex> lock{g->mtx};
                                if (inv && inv->contains("invoices") && (*inv)["invoices"].is_array()) {
                                  for (auto& i : (*inv)["invoices"])
                                    if (i.value("email", email) == email)
                                      g->data["invoices"].push_back(i);
                                } else {
                                  g->warnings.push_back("invoices are not available now (the payments subsystem "
                                                        "did not answer)");
                                }
                              }
                              g->done();
                            });
          });
      }))
    .rate = {600, seconds{60}};
  add(method::get, "/api/portal/jobs/{id}", auth_level::open, jobs::queue_id,
      "One of the link's client's jobs; 404 for any other job.",
      with_link(ctx, [ctx, timeout](const std::string& email, request& req, respond_fn respond) {
        auto id = *req.param("id");
        ctx.calls->call(jobs::queue_id, caf::make_message(get_atom::value, id), timeout,
                        [email, id, respond](caf::expected<json> job) {
                          auto missing = [&] { return fail(404, "not_found", "no job '" + id.substr(0, 64) + "'"); };
                          if (!job)
                            return respond(job.error().category() == error_category
                                               && job.error().code() == static_cast<std::uint8_t>(errc::not_found)
                                             ? missing()
                                             : error_response(job.error()));
                          if (job->value("email", "") != email)
                            return respond(missing());
                          respond(ok(client_job(*job)));
                        });
      }))
    .rate = {600, seconds{60}};
  {
    auto& r = add(
      method::post, "/api/portal/jobs", auth_level::open, jobs::queue_id,
      "Hands in a job for the link's client: {\"task_type\", \"input\", \"title\"?} (as POST /api/jobs; "
      "an email in the body is ignored), or {\"upload_id\", \"task_type\": \"transcription\"} for a "
      "complete audio upload (422 transcription_unavailable without a model); \"ref\": a referral code "
      "EP-XXXXXX, recorded.",
      with_link(ctx, [ctx, timeout](const std::string& email, request& req, respond_fn respond) {
        auto& b = req.json;
        if (auto ref = b.find("ref"); ref != b.end() && !ref->is_null()) {
          if (!ref->is_string() || !valid_referral(ref->get<std::string>()))
            return respond(fail(400, "invalid_field", "'ref' must be a referral code EP- and 6 hex digits"));
          record(ctx, {{"kind", "referral"}, {"code", *ref}, {"email", email}});
        }
        auto created = [respond](caf::expected<json> answer) {
          if (!answer)
            return respond(error_response(answer.error()));
          if (answer->contains("refused"))
            return respond(portal_answer(*answer));
          respond(ok(client_job((*answer)["job"]), 201));
        };
        if (auto up = b.find("upload_id"); up != b.end()) {
          if (!up->is_string() || up->get_ref<const std::string&>().empty())
            return respond(fail(400, "invalid_field", "'upload_id' must be a non-empty string"));
          if (b.value("task_type", "transcription") != "transcription")
            return respond(fail(422, "invalid_task_type", "an audio upload is a job of task_type transcription"));
          json body = {{"upload_id", *up}};
          if (auto t = b.find("title"); t != b.end() && t->is_string())
            body["title"] = *t;
          return ctx.calls->call(portal::actor_id,
                                 caf::make_message(portal::transcribe_atom::value, email, std::move(body)),
                                 timeout * 24, created);
        }
        json job = {{"email", email}};
        for (auto k : {"task_type", "input", "title"})
          if (auto f = b.find(k); f != b.end())
            job[k] = *f;
        ctx.calls->call(jobs::queue_id, caf::make_message(jobs::submit_atom::value, std::move(job), std::string{}),
                        timeout, created);
      }));
    r.body = body_kind::json;
    r.body_limit = 256 * kib;
    r.rate = {60, seconds{60}};
    r.deadline = ctx.timeout * 24; // a transcription
  }
  {
    auto& r = add(method::post, "/api/portal/uploads", auth_level::open, portal::actor_id,
                  "Starts an audio upload: {\"filename\", \"size\" (at most 50 MB), \"content_type\"} "
                  "(mp3, mp4, mpeg, mpga, m4a, wav, webm, ogg, flac; else 415); answers upload_id.",
                  with_link(ctx, [ctx, timeout](const std::string& email, request& req, respond_fn respond) {
                    ctx.calls->call(portal::actor_id,
                                    caf::make_message(portal::upload_atom::value, email, req.json), timeout,
                                    [respond](caf::expected<json> answer) {
                                      if (!answer)
                                        return respond(error_response(answer.error()));
                                      respond(portal_answer(*answer, 201));
                                    });
                  }));
    r.body = body_kind::json;
    r.body_limit = 4 * kib;
    r.rate = {60, seconds{60}};
  }
  {
    auto& r = add(method::put, "/api/portal/uploads/{id}", auth_level::open, portal::actor_id,
                  "Appends a chunk (application/octet-stream, at most 1 MiB) at ?offset=N, which must "
                  "equal the bytes received so far (a retried chunk changes nothing; a gap is 409).",
                  with_link(ctx, [ctx, timeout](const std::string& email, request& req, respond_fn respond) {
                    auto ct = req.header("content-type");
                    if (ct == nullptr || ct->rfind("application/octet-stream", 0) != 0)
                      return respond(fail(415, "unsupported_media_type",
                                          "a chunk must be sent as application/octet-stream"));
                    auto off = req.query_param("offset");
                    if (off == nullptr)
                      return respond(fail(400, "missing_query", "the query parameter 'offset' is required"));
                    auto offset = uint_param(req, "offset", 0, portal::max_upload_bytes);
                    if (auto* bad = std::get_if<response>(&offset))
                      return respond(std::move(*bad));
                    ctx.calls->call(portal::actor_id,
                                    caf::make_message(portal::chunk_atom::value, email, *req.param("id"),
                                                      std::get<std::uint64_t>(offset), std::move(req.body)),
                                    timeout, [respond](caf::expected<json> answer) {
                                      if (!answer)
                                        return respond(error_response(answer.error()));
                                      respond(portal_answer(*answer));
                                    });
                  }));
    r.body_limit = static_cast<std::size_t>(portal::max_chunk_bytes);
    r.rate = {600, seconds{60}};
  }
}

} // namespace echopilot::http
