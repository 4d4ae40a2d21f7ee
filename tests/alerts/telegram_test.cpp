// The Telegram connector against the fake Bot API on loopback
// (tests/fakes/fake_telegram.py): the path and body of sendMessage, the
// error JSON mapped to clear errors, 429 retried after retry_after, an
// unreachable API, the token kept out of every error, and dry-run without
// a token or a chat id (nothing sent, said so, recorded).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <future>

#include "connectors/telegram.hpp"
#include "tests/alerts/fake_telegram.hpp"

using namespace echopilot::connectors;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string token = "123456:AAE-secret-bot-token-0123456789";
const std::string chat = "-100987654";

struct fake_telegram : test::fake_telegram {
  fake_telegram() : test::fake_telegram(token, chat) {
  }
};

telegram_options options(const std::string& base, std::string tok = token, std::string chat_id = chat) {
  telegram_options o;
  o.api_base = base;
  o.token = std::move(tok);
  o.chat_id = std::move(chat_id);
  o.retry_base = 20ms;
  o.timeout = 5s;
  return o;
}

telegram_result send(telegram_client& c, const std::string& text) {
  std::promise<telegram_result> p;
  auto f = p.get_future();
  c.send(text, [&p](telegram_result r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  return f.get();
}

} // namespace

TEST_CASE("sendMessage: the path carries the token, the body chat_id and text") {
  fake_telegram fake;
  telegram_client client{options(fake.root + "/")};
  CHECK_FALSE(client.dry_run());
  auto r = send(client, "[CRITICAL] webhook_failures: 4 failures in 5 min");
  CHECK(r.sent);
  CHECK_FALSE(r.dry_run);
  CHECK(r.status == 200);
  CHECK(r.message_id == 1);
  CHECK(r.tries == 1);
  CHECK(fake.messages() == json::array({{{"chat_id", chat}, {"text", "[CRITICAL] webhook_failures: 4 failures in 5 min"}}}));
  CHECK(fake.stats()["bad_paths"] == 0);
  // A long text is cut to Telegram's limit at a UTF-8 boundary.
  std::string long_text(telegram_max_text - 1, 'x');
  long_text += "\xc3\xa9\xc3\xa9"; // two 2-byte characters across the limit
  REQUIRE(send(client, long_text).sent);
  auto last = fake.messages().back()["text"].get<std::string>();
  CHECK(last.size() == telegram_max_text - 1);
}

TEST_CASE("Telegram's error JSON becomes a clear error without the token") {
  fake_telegram fake;
  SUBCASE("a wrong token: 404 Not Found -> telegram_auth_failed") {
    telegram_client client{options(fake.root, "999:wrong-token-abcdef")};
    auto r = send(client, "x");
    CHECK_FALSE(r.sent);
    CHECK(r.error_code == "telegram_auth_failed");
    CHECK(r.error_message.find("HTTP 404: Not Found") != std::string::npos);
    CHECK(r.error_message.find("TELEGRAM_BOT_TOKEN") != std::string::npos);
    CHECK(r.error_message.find("wrong-token") == std::string::npos);
    CHECK(r.tries == 1); // not retried
  }
  SUBCASE("an unknown chat: 400 -> telegram_rejected naming TELEGRAM_CHAT_ID") {
    telegram_client client{options(fake.root, token, "42")};
    auto r = send(client, "x");
    CHECK(r.error_code == "telegram_rejected");
    CHECK(r.error_message.find("chat not found") != std::string::npos);
    CHECK(r.error_message.find("TELEGRAM_CHAT_ID") != std::string::npos);
    CHECK(r.tries == 1);
  }
  SUBCASE("a description quoting the token is scrubbed") {
    fake.script(json::array({{{"status", 400}, {"description", "Bad Request: bot " + token + " is odd"}}}));
    telegram_client client{options(fake.root)};
    auto r = send(client, "x");
    CHECK(r.error_code == "telegram_rejected");
    CHECK(r.error_message.find(token) == std::string::npos);
    CHECK(r.error_message.find("<token>") != std::string::npos);
  }
  SUBCASE("429 with retry_after is retried, then succeeds") {
    fake.script(json::array({{{"status", 429}, {"retry_after", 1}, {"description", "Too Many Requests: retry after 1"}}}));
    telegram_client client{options(fake.root)};
    auto t0 = std::chrono::steady_clock::now();
    auto r = send(client, "after a 429");
    CHECK(r.sent);
    CHECK(r.tries == 2);
    CHECK(std::chrono::steady_clock::now() - t0 >= 900ms); // retry_after: 1 s, the base backoff 20 ms
  }
  SUBCASE("5xx on every try: telegram_unavailable after the last") {
    fake.script(json::array({{{"status", 502}}, {{"status", 502}}, {{"status", 502}}}));
    telegram_client client{options(fake.root)};
    auto r = send(client, "x");
    CHECK(r.error_code == "telegram_unavailable");
    CHECK(r.tries == 3);
    CHECK(r.error_message.find("after 3 tries") != std::string::npos);
    CHECK(fake.messages().empty());
  }
}

TEST_CASE("an unreachable API is telegram_unreachable; the token is not in the message") {
  // A port nobody listens on (the fake's, after it has gone).
  std::string root;
  {
    fake_telegram fake;
    root = fake.root;
  }
  auto o = options(root);
  o.max_retries = 1;
  telegram_client client{o};
  auto r = send(client, "x");
  CHECK_FALSE(r.sent);
  CHECK(r.error_code == "telegram_unreachable");
  CHECK(r.tries == 2);
  CHECK(r.error_message.find(token) == std::string::npos);
}

TEST_CASE("dry-run without a token or a chat id: nothing sent, said so, recorded") {
  fake_telegram fake;
  for (auto [tok, chat_id, missing] :
       {std::tuple{std::string{}, chat, "TELEGRAM_BOT_TOKEN"}, std::tuple{token, std::string{}, "TELEGRAM_CHAT_ID"}}) {
    telegram_client client{options(fake.root, tok, chat_id)};
    CHECK(client.dry_run());
    CHECK(client.dry_run_reason().find(missing) != std::string::npos);
    auto r = send(client, "would be sent");
    CHECK(r.dry_run);
    CHECK_FALSE(r.sent); // never a fake success
    CHECK(r.error_message.find("nothing was sent") != std::string::npos);
    REQUIRE(client.dry_run_log().size() == 1);
    CHECK(client.dry_run_log().front().text == "would be sent");
  }
  CHECK(fake.stats()["requests"] == 0);
}

TEST_CASE("parse_telegram_response reads message_id and maps statuses") {
  auto ok = parse_telegram_response(200, R"({"ok":true,"result":{"message_id":77}})", token);
  CHECK(ok.sent);
  CHECK(ok.message_id == 77);
  CHECK(parse_telegram_response(200, "not json", token).error_code == "telegram_bad_response");
  CHECK(parse_telegram_response(200, R"({"ok":true,"result":{}})", token).error_code == "telegram_bad_response");
  CHECK(parse_telegram_response(401, R"({"ok":false,"error_code":401,"description":"Unauthorized"})", token)
          .error_code == "telegram_auth_failed");
  CHECK(parse_telegram_response(403, R"({"ok":false,"description":"Forbidden: bot was blocked by the user"})", token)
          .error_code == "telegram_rejected");
  CHECK(parse_telegram_response(429, "{}", token).error_code == "telegram_rate_limited");
  CHECK(parse_telegram_response(503, "", token).error_code == "telegram_unavailable");
  CHECK(json::parse(telegram_body("1", "hi")) == json{{"chat_id", "1"}, {"text", "hi"}, {"disable_web_page_preview", true}});
}
