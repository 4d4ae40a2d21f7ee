// The portal actor on CAF's deterministic test coordinator with a manual
// wall clock: an upload left untouched for 24 h is removed by the hourly
// sweep (files and all) while a fresher one stays; a new incarnation finds
// the uploads on disk again with the bytes received so far; a transcription
// hands the file's path and name to the connector and refuses a second
// concurrent one.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/portal/portal_actor.hpp"
#include "protocol/portal.hpp"
#include "tests/support/deterministic.hpp"

using namespace echopilot;
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct fixture : test::deterministic_system {
  base::manual_clock wall;
  std::string dir;
  caf::actor portal;
  std::vector<std::pair<std::string, std::string>> asked; // (path, filename)

  fixture() {
    char tmpl[] = "/tmp/portal-actor-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }

  ~fixture() {
    stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void start(bool with_model = false) {
    portal::portal_config c;
    c.clock = &wall;
    c.data_dir = dir;
    if (with_model) {
      c.transcription_model = "whisper-1";
      c.transcribe = [this](const std::string& path, const std::string& name, const std::string&,
                            std::function<void(connectors::chat_result)>) { asked.emplace_back(path, name); };
    }
    portal = sys.spawn(portal::portal_actor, c);
    sched.run();
  }

  void stop() {
    if (portal) {
      caf::anon_send_exit(portal, caf::exit_reason::kill);
      sched.run();
      portal = nullptr;
    }
  }

  template <class... Ts>
  json ask(Ts&&... xs) {
    auto rh = self->request(portal, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    json out;
    rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error& e) { out = {{"error", to_string(e)}}; });
    return out;
  }

  std::string create(const std::string& email, std::uint64_t size) {
    auto r = ask(portal::upload_atom::value, email,
                 json{{"filename", "a.wav"}, {"size", size}, {"content_type", "audio/wav"}});
    REQUIRE_MESSAGE(r.contains("upload_id"), r.dump());
    return r["upload_id"];
  }

  /// Moves both clocks: the wall clock (ages) and CAF's (timers).
  void pass(std::chrono::milliseconds d) {
    wall.advance(d);
    sched.advance_time(d);
    sched.run();
  }
};

} // namespace

TEST_CASE("uploads untouched for 24 h are swept, fresher ones stay") {
  fixture f;
  f.start();
  auto old_id = f.create("ana@example.com", 10);
  CHECK(f.ask(portal::chunk_atom::value, std::string{"ana@example.com"}, old_id, std::uint64_t{0},
              std::string{"abc"})["received"]
        == 3);
  f.pass(13h);
  auto fresh = f.create("ana@example.com", 10);
  CHECK(fs::exists(f.dir + "/uploads/" + old_id + ".bin"));
  f.pass(11h); // the old one is 24 h untouched now
  CHECK_FALSE(fs::exists(f.dir + "/uploads/" + old_id + ".bin"));
  CHECK_FALSE(fs::exists(f.dir + "/uploads/" + old_id + ".json"));
  CHECK(fs::exists(f.dir + "/uploads/" + fresh + ".bin"));
  auto gone = f.ask(portal::chunk_atom::value, std::string{"ana@example.com"}, old_id, std::uint64_t{3},
                    std::string{"d"});
  CHECK(gone["refused"]["status"] == 404);
  f.pass(13h);
  CHECK_FALSE(fs::exists(f.dir + "/uploads/" + fresh + ".bin"));
}

TEST_CASE("a new incarnation finds the uploads and the bytes received so far") {
  fixture f;
  f.start();
  auto id = f.create("bo@example.com", 6);
  f.ask(portal::chunk_atom::value, std::string{"bo@example.com"}, id, std::uint64_t{0}, std::string{"123"});
  f.stop();
  f.start();
  auto wrong = f.ask(portal::chunk_atom::value, std::string{"bo@example.com"}, id, std::uint64_t{0},
                     std::string{"1234"});
  CHECK(wrong["refused"]["status"] == 409);
  auto other = f.ask(portal::chunk_atom::value, std::string{"ana@example.com"}, id, std::uint64_t{3},
                     std::string{"456"});
  CHECK(other["refused"]["status"] == 404);
  auto last = f.ask(portal::chunk_atom::value, std::string{"bo@example.com"}, id, std::uint64_t{3},
                    std::string{"456"});
  CHECK(last["complete"] == true);
  CHECK(last["received"] == 6);
}

TEST_CASE("a transcription hands path and name to the connector, once at a time") {
  fixture f;
  f.start(true);
  auto id = f.create("ana@example.com", 2);
  f.ask(portal::chunk_atom::value, std::string{"ana@example.com"}, id, std::uint64_t{0}, std::string{"hi"});
  auto rh = f.self->request(f.portal, caf::infinite, portal::transcribe_atom::value, std::string{"ana@example.com"},
                            json{{"upload_id", id}});
  f.sched.run();
  REQUIRE(f.asked.size() == 1);
  CHECK(f.asked[0].first == f.dir + "/uploads/" + id + ".bin");
  CHECK(f.asked[0].second == "a.wav");
  auto again = f.ask(portal::transcribe_atom::value, std::string{"ana@example.com"}, json{{"upload_id", id}});
  CHECK(again["refused"]["code"] == "transcription_running");
  // The connector's failure comes back as a 502 refusal.
  caf::anon_send(f.portal, portal::transcribed_atom::value, std::uint64_t{1}, id, false, std::string{},
                 std::string{"model_unavailable"}, std::string{"down"});
  f.sched.run();
  json out;
  rh.receive([&](json& x) { out = std::move(x); }, [&](caf::error&) {});
  CHECK(out["refused"]["status"] == 502);
  CHECK(out["refused"]["code"] == "transcription_failed");
}

TEST_CASE("at most ten incomplete uploads per client at once") {
  fixture f;
  f.start();
  for (int i = 0; i < 10; ++i)
    f.create("ana@example.com", 5);
  auto over = f.ask(portal::upload_atom::value, std::string{"ana@example.com"},
                    json{{"filename", "a.wav"}, {"size", std::uint64_t{5}}, {"content_type", "audio/wav"}});
  CHECK(over["refused"]["code"] == "too_many_uploads");
  f.create("bo@example.com", 5); // another client is not held up
}

TEST_CASE("audio types: extension and content type must both be audio") {
  CHECK(portal::audio_allowed("a.MP3", "audio/mpeg"));
  CHECK(portal::audio_allowed("a.m4a", "audio/x-m4a"));
  CHECK(portal::audio_allowed("a.webm", "audio/webm; codecs=opus"));
  CHECK_FALSE(portal::audio_allowed("a.exe", "audio/mpeg"));
  CHECK_FALSE(portal::audio_allowed("a.mp3", "application/octet-stream"));
  CHECK_FALSE(portal::audio_allowed("mp3", "audio/mpeg"));
}
