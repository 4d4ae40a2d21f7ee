// -- backup (issue 17, S23): POST /api/backup/run, GET /api/backup/list,
// POST /api/backup/verify (admin), answered by the backup actor.
#include <algorithm>
#include <cmath>

#include <caf/make_message.hpp>

#include "http/routes.hpp"
#include "protocol/backup.hpp"

namespace echopilot::http {

using nlohmann::json;

namespace {

/// The actor's refusal as its status; else the envelope.
response backup_answer(json& answer, const json& extra = nullptr) {
  if (auto r = answer.find("refused"); r != answer.end())
    return fail(r->value("status", 400), r->value("code", "refused"), r->value("message", ""));
  return ok(std::move(answer), 200, extra);
}

/// The original's top-level fields of a run: ts, archive, size_bytes,
/// size_mb.
response run_answer(json& answer) {
  if (answer.contains("refused"))
    return backup_answer(answer);
  auto size = answer.value("size", std::uint64_t{0});
  json extra = {{"ts", answer["manifest"].value("created_at", std::string{})},
                {"archive", answer.value("file", std::string{})},
                {"size_bytes", size},
                {"size_mb", std::round(static_cast<double>(size) / 1e6 * 100) / 100}};
  return backup_answer(answer, extra);
}

} // namespace

void add_backup_routes(const route_context& ctx, std::vector<route>& t) {
  // A run copies, checks, archives and hashes the whole store: minutes for
  // a large one.
  auto slow = ctx;
  slow.timeout = std::max<std::chrono::milliseconds>(ctx.timeout, std::chrono::milliseconds{3'600'000});
  auto& run = add_route(
    t, ctx, method::post, "/api/backup/run", auth_level::admin, backup::actor_id,
    "Makes a backup set (S23) in the backup dir while the node keeps serving: "
    "echopilot-YYYYMMDDTHHMMSSZ.tar.gz (the store's compacted hot copy, the config file, the settings without "
    "secrets) and its .manifest.json beside it; then retention. Answers data.file, size, sha256, manifest "
    "(created_at, node, region, size, sha256, records per table, store_bytes, duration_ms) and removed (the "
    "sets retention deleted); top level ts, archive, size_bytes, size_mb. 409 backup_running while one runs.",
    via_actor(slow, backup::actor_id,
              [](request&) -> std::variant<caf::message, response> {
                return caf::make_message(backup::run_atom::value);
              },
              run_answer));
  run.body = body_kind::json;
  run.body_limit = 1024;
  run.deadline = slow.timeout;

  add_route(t, ctx, method::get, "/api/backup/list", auth_level::admin, backup::actor_id,
            "The complete backup sets, newest first: each manifest's fields with file and manifest_file; count, "
            "dir, running, keep_daily, keep_weekly.",
            via_actor(
              ctx, backup::actor_id,
              [](request&) -> std::variant<caf::message, response> {
                return caf::make_message(backup::list_atom::value);
              },
              [](json& answer) { return backup_answer(answer); }));

  auto& verify = add_route(
    t, ctx, method::post, "/api/backup/verify", auth_level::admin, backup::actor_id,
    "Verifies a backup set {\"file\": \"echopilot-...tar.gz\"}: the archive's SHA-256 against its manifest, then "
    "the copy unpacked (in a temporary dir of the backup dir) and walked entry by entry, its records per table "
    "against the manifest's. Answers ok, file, size, sha256, records, bytes, manifest. 400 for a name with '/' "
    "or '..' or not a set's; 404 no such set; 422 backup_corrupt (naming the problem) or backup_incomplete.",
    via_actor(slow, backup::actor_id,
              [](request& req) -> std::variant<caf::message, response> {
                if (!req.json.is_object())
                  return fail(400, "invalid_body", "the body must be a JSON object");
                auto f = req.json.find("file");
                if (f == req.json.end())
                  return fail(400, "missing_field", "the field 'file' is missing");
                if (!f->is_string() || f->get<std::string>().empty() || f->get<std::string>().size() > 200)
                  return fail(400, "invalid_field", "'file' must be a backup's file name (a non-empty string)");
                return caf::make_message(backup::verify_atom::value, f->get<std::string>());
              },
              [](json& answer) { return backup_answer(answer); }));
  verify.body = body_kind::json;
  verify.body_limit = 4 * 1024;
  verify.deadline = slow.timeout;
}

} // namespace echopilot::http
