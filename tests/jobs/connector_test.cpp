// The model connector against the fake OpenAI-compatible server on loopback:
// answers, retries honouring Retry-After, the final error mapping, timeouts,
// the key kept out of errors, and hundreds of calls in flight on one thread.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <thread>

#include "connectors/openai.hpp"
#include "tests/support/fake_model.hpp"

using namespace echopilot::connectors;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string api_key = "sk-test-secret-0123456789";

chat_request request(const std::string& text = "Write one sentence about LMDB.") {
  chat_request r;
  r.model = "gpt-4o";
  r.messages = {{"system", "You are an AI automation assistant."}, {"user", text}};
  return r;
}

openai_options options(const test::fake_model& fake) {
  openai_options o;
  o.base_url = fake.base_url();
  o.api_key = api_key;
  o.retry_base = 20ms;
  o.timeout = 5s;
  return o;
}

chat_result call(openai_client& client, chat_request req = request()) {
  std::promise<chat_result> p;
  auto f = p.get_future();
  client.chat(std::move(req), [&p](chat_result r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  return f.get();
}

std::size_t threads_of_this_process() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (auto* e = readdir(d))
      n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

} // namespace

TEST_CASE("a completion: content, model and usage; the key goes only into the header") {
  test::fake_model fake;
  fake.configure({{"prompt_tokens", 120}, {"completion_tokens", 45}});
  openai_client client{options(fake)};
  auto r = call(client);
  CHECK(r.ok);
  CHECK(r.content.find("Write one sentence about LMDB.") != std::string::npos);
  CHECK(r.model == "gpt-4o");
  CHECK(r.prompt_tokens == 120);
  CHECK(r.completion_tokens == 45);
  CHECK(r.tries == 1);
  CHECK(fake.stats()["auth"] == json::array({"Bearer " + api_key}));
  CHECK(client.stats().succeeded == 1);
}

TEST_CASE("429 then success: the retry waits as long as Retry-After asks") {
  test::fake_model fake;
  fake.script(json::array({{{"status", 429}, {"retry_after", "1"}}}));
  openai_client client{options(fake)};
  auto r = call(client);
  CHECK(r.ok);
  CHECK(r.tries == 2);
  CHECK(r.duration_ms >= 950); // Retry-After: 1 (the base backoff is 20 ms)
  CHECK(client.stats().retries == 1);
}

TEST_CASE("408, 409 and 5xx are retried; after the last try the error is mapped") {
  test::fake_model fake;
  fake.script(json::array({{{"status", 503}}, {{"status", 408}}, {{"status", 409}}}));
  auto o = options(fake);
  o.max_retries = 3;
  openai_client client{o};
  CHECK(call(client).tries == 4);

  fake.script(json::array({{{"status", 500}}, {{"status", 500}}, {{"status", 500}}}));
  o.max_retries = 2;
  openai_client strict{o};
  auto r = call(strict);
  CHECK_FALSE(r.ok);
  CHECK(r.tries == 3);
  CHECK(r.status == 500);
  CHECK(r.error_code == "model_unavailable");
  CHECK(r.retryable);
  CHECK(r.error_message.find("HTTP 500") != std::string::npos);
  CHECK(r.error_message.find("The server had an error") != std::string::npos); // the API's message
  CHECK(r.error_message.find(api_key) == std::string::npos);

  fake.script(json::array({{{"status", 429}, {"retry_after", "0"}},
                           {{"status", 429}, {"retry_after", "0"}},
                           {{"status", 429}, {"retry_after", "0"}}}));
  CHECK(call(strict).error_code == "model_rate_limited");
}

TEST_CASE("client errors are not retried: auth, bad request") {
  test::fake_model fake;
  openai_client client{options(fake)};
  fake.script(json::array({{{"status", 401}}}));
  auto r = call(client);
  CHECK(r.error_code == "model_auth_failed");
  CHECK_FALSE(r.retryable);
  CHECK(r.tries == 1);
  // The API's own 401 text may quote part of the key: it is not passed on.
  CHECK(r.error_message.find("Incorrect API key") == std::string::npos);
  CHECK(r.error_message.find("AI_INTEGRATIONS_OPENAI_API_KEY") != std::string::npos);
  CHECK(r.error_message.find(api_key) == std::string::npos);
  fake.script(json::array({{{"status", 400}}}));
  CHECK(call(client).error_code == "model_rejected");
}

TEST_CASE("a malformed answer, a timeout and an unreachable API are clear errors") {
  test::fake_model fake;
  auto o = options(fake);
  o.max_retries = 0;
  openai_client client{o};
  fake.script(json::array({{{"raw", "<html>oops</html>"}}}));
  auto r = call(client);
  CHECK(r.error_code == "model_bad_response");
  fake.script(json::array({{{"body", {{"choices", json::array()}}}}}));
  CHECK(call(client).error_message.find("no choices") != std::string::npos);

  o.timeout = 200ms;
  openai_client impatient{o};
  fake.script(json::array({{{"latency_ms", 2000}}}));
  r = call(impatient);
  CHECK(r.error_code == "model_timeout");
  CHECK(r.retryable);

  o.base_url = "http://127.0.0.1:1/v1"; // nothing listens on port 1
  openai_client nowhere{o};
  r = call(nowhere);
  CHECK(r.error_code == "model_unreachable");
  CHECK(r.error_message.find(api_key) == std::string::npos);
}

TEST_CASE("hundreds of calls in flight on the connector's one thread") {
  test::fake_model fake{300};
  auto o = options(fake);
  openai_client client{o};
  constexpr int calls = 300;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  std::promise<void> all;
  auto before = threads_of_this_process();
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i)
    client.chat(request("call " + std::to_string(i)), [&](chat_result r) {
      ok += r.ok;
      if (++done == calls)
        all.set_value();
    });
  // Counted while at least 100 calls wait at the model.
  for (int i = 0; i < 500 && fake.stats()["in_flight"].get<int>() < 100; ++i)
    std::this_thread::sleep_for(5ms);
  CHECK(fake.stats()["in_flight"].get<int>() >= 100);
  auto during = threads_of_this_process();
  REQUIRE(all.get_future().wait_for(60s) == std::future_status::ready);
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(ok == calls);
  CHECK(during == before); // no thread per call
  CHECK(fake.stats()["max_in_flight"].get<int>() >= 100);
  // One after another they would take 90 s; together about one latency.
  CHECK(took < 30s);
}

TEST_CASE("a transcription: the file goes up as multipart under its own name; 503 is retried; errors mapped") {
  char tmpl[] = "/tmp/transcribe-XXXXXX";
  int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  std::string bytes(300'000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>((i * 131) & 0xff);
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  test::fake_model fake;
  fake.script(json::array({{{"kind", "audio"}, {"status", 503}}}));
  openai_client client{options(fake)};
  std::promise<chat_result> p;
  client.transcribe(tmpl, "talk.m4a", "whisper-1", [&p](chat_result r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  CHECK(r.ok);
  CHECK(r.tries == 2);
  CHECK(r.content.rfind("transcript of talk.m4a: 300000 bytes, sha256 ", 0) == 0);
  auto seen = fake.stats()["transcriptions"];
  REQUIRE(seen.size() == 2);
  CHECK(seen[1]["model"] == "whisper-1");
  CHECK(seen[1]["bytes"] == 300'000);
  ::unlink(tmpl);

  // A file that is not there, and the API's answers.
  std::promise<chat_result> gone;
  client.transcribe("/nonexistent/audio.mp3", "audio.mp3", "whisper-1",
                    [&gone](chat_result x) { gone.set_value(std::move(x)); });
  CHECK_FALSE(gone.get_future().get().ok);
  CHECK(parse_transcription_response(200, R"({"text": "hello"})").content == "hello");
  CHECK(parse_transcription_response(200, R"({"words": []})").error_code == "model_bad_response");
  CHECK(parse_transcription_response(401, R"({"error": {"message": "bad key sk-123"}})").error_code
        == "model_auth_failed");
  CHECK(parse_transcription_response(400, R"({"error": {"message": "Invalid file format."}})").error_code
        == "model_rejected");
}
