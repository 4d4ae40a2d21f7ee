// GET /api/jobs: read from the store by a short-lived reader, so that a list
// (up to max_list_scan records read and decoded) never holds up the queue,
// whose own work per list request is O(1).
#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/jobs/queue_state.hpp"

namespace echopilot::jobs {

using nlohmann::json;

namespace {

/// A job as a list shows it: without its result, its input cut to 200
/// bytes (GET /api/jobs/{id} has both whole).
json list_item(json j) {
  // -- flow (issue 15): a record stored before results were kept apart
  // shows the summary of its inline result.
  if (auto r = j.find("result"); r != j.end() && r->is_string() && !j.contains("result_summary"))
    j["result_summary"] = result_summary_of(r->get_ref<const std::string&>());
  j.erase("result");
  auto& input = j["input"];
  if (input.is_string() && input.get_ref<const std::string&>().size() > 200) {
    auto& text = input.get_ref<std::string&>();
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      --cut; // not inside a UTF-8 sequence
    text.resize(cut);
    j["input_truncated"] = true;
  }
  return j;
}

/// The jobs a list request shows: newest first, filtered, as committed.
json list_jobs(store_port& store, const json& filter, json counts) {
  auto status = filter.value("status", "");
  auto email = filter.value("email", "");
  auto correlation = filter.value("correlation_id", ""); // -- flow (issue 15)
  auto since = filter.value("since_ms", std::int64_t{0});
  auto until = filter.value("until_ms", std::int64_t{0});
  auto limit = std::clamp<std::size_t>(filter.value("limit", std::size_t{50}), 1, 500);
  auto cursor = filter.value("cursor", "");
  // Ids sort by creation time: the time range is a key range.
  std::string from = since > 0 ? make_job_id(since, 0) : std::string{};
  std::string to = until > 0 ? make_job_id(until, 0) : std::string{};
  if (!cursor.empty() && (to.empty() || cursor < to))
    to = cursor;
  json jobs = json::array();
  std::string last;
  std::size_t scanned = 0;
  bool more = false;
  store.scan_back(from, to, max_list_scan, [&](const json& stored) {
    ++scanned;
    last = stored.value("id", "");
    if ((!status.empty() && stored.value("status", "") != status)
        || (!email.empty() && stored.value("email", "") != email)
        || (!correlation.empty() && stored.value("correlation_id", "") != correlation)) // -- flow
      return true;
    if (jobs.size() == limit) {
      more = true;
      return false;
    }
    jobs.push_back(list_item(stored));
    return true;
  });
  // A page cut short by the scan bound continues where the scan stopped.
  json next = nullptr;
  if (more)
    next = jobs.back()["id"];
  else if (scanned == max_list_scan)
    next = last;
  return {{"jobs", std::move(jobs)}, {"next_cursor", std::move(next)}, {"counts", std::move(counts)}};
}

} // namespace

caf::behavior list_reader(caf::event_based_actor* self, std::shared_ptr<store_port> store) {
  return {
    [self, store](list_atom, const json& filter, json& counts) -> caf::result<json> {
      // One request, then this reader ends.
      self->quit();
      try {
        return reply(list_jobs(*store, filter, std::move(counts)));
      } catch (const std::exception&) {
        return make_error(errc::storage_failure, "the jobs could not be read; retry");
      }
    },
  };
}

} // namespace echopilot::jobs
