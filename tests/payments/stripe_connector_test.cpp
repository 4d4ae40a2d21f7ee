// The Stripe connector against the fake Stripe on loopback
// (tests/fakes/fake_stripe.py): what Stripe receives (form keys, Bearer,
// Idempotency-Key), the same key on every retry, retries where Stripe says
// they are safe and never beyond max_retries, errors mapped with Stripe's
// message and param, full and partial refunds, dry-run sending nothing, stop
// completing calls in flight, and the key in no error.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <future>
#include <optional>
#include <thread>

#include "connectors/stripe.hpp"
#include "tests/support/fake_stripe.hpp"

using namespace echopilot::connectors;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string key = "sk_test_51FakeKeyForTheConnectorTest0123";

stripe_options options(const std::string& base, std::string secret = key) {
  stripe_options o;
  o.api_base = base;
  o.secret_key = std::move(secret);
  o.retry_base = 5ms;
  o.retry_max = 50ms;
  o.timeout = 5s;
  return o;
}

stripe_result wait(std::future<stripe_result>& f) {
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  auto r = f.get();
  // Whatever happened, the key is in no message.
  CHECK(r.error_message.find(key) == std::string::npos);
  CHECK(r.error_message.find(key.substr(key.size() - 8)) == std::string::npos);
  return r;
}

stripe_result post(stripe_client& c, const std::string& path, const json& params, const std::string& idem) {
  auto p = std::make_shared<std::promise<stripe_result>>();
  auto f = p->get_future();
  c.post(path, flatten_form(params), idem, [p](stripe_result r) { p->set_value(std::move(r)); });
  return wait(f);
}

stripe_result get(stripe_client& c, const std::string& path, const form_params& query = {}) {
  auto p = std::make_shared<std::promise<stripe_result>>();
  auto f = p->get_future();
  c.get(path, query, [p](stripe_result r) { p->set_value(std::move(r)); });
  return wait(f);
}

json checkout(const std::string& job, long amount) {
  return {{"mode", "payment"},
          {"success_url", "http://127.0.0.1:1/portal?paid={CHECKOUT_SESSION_ID}"},
          {"cancel_url", "http://127.0.0.1:1/portal"},
          {"metadata", {{"job_id", job}}},
          {"line_items",
           json::array({{{"quantity", 1},
                         {"price_data",
                          {{"currency", "usd"}, {"unit_amount", amount}, {"product_data", {{"name", "Job " + job}}}}}}})}};
}

json form_of(const json& request) {
  json out = json::array();
  for (auto& kv : request["form"])
    out.push_back(kv);
  return out;
}

json pairs(const form_params& params) {
  json out = json::array();
  for (auto& [k, v] : params)
    out.push_back({k, v});
  return out;
}

} // namespace

TEST_CASE("a Checkout Session: Stripe receives the nested form, the Bearer key and the Idempotency-Key") {
  test::fake_stripe fake{key};
  stripe_client client{options(fake.root() + "/")};
  CHECK_FALSE(client.dry_run());
  auto params = checkout("j0001", 2500);
  auto r = post(client, "checkout/sessions", params, "job-j0001-checkout");
  REQUIRE_MESSAGE(r.ok, r.error_message);
  CHECK(r.status == 200);
  CHECK(r.tries == 1);
  CHECK(r.object["object"] == "checkout.session");
  CHECK(r.object["id"].get<std::string>().rfind("cs_test_", 0) == 0);
  CHECK(r.object["metadata"]["job_id"] == "j0001");
  CHECK(r.object["amount_total"] == 2500);
  CHECK(r.object["url"].get<std::string>().rfind(fake.root() + "/pay/cs_test_", 0) == 0);
  CHECK(r.request_id.rfind("req_", 0) == 0);

  auto seen = fake.requests("/v1/checkout/sessions");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["method"] == "POST");
  CHECK(seen[0]["headers"]["authorization"] == "Bearer " + key);
  CHECK(seen[0]["headers"]["idempotency-key"] == "job-j0001-checkout");
  CHECK(seen[0]["headers"]["content-type"] == "application/x-www-form-urlencoded");
  CHECK(form_of(seen[0]) == pairs(flatten_form(params)));

  // Read back, alone and in a list filtered by creation time.
  auto id = r.object["id"].get<std::string>();
  auto one = get(client, "/v1/checkout/sessions/" + id);
  REQUIRE(one.ok);
  CHECK(one.object["status"] == "open");
  CHECK(one.object["payment_status"] == "unpaid");
  CHECK(one.object["payment_intent"].is_null());
  auto created = std::to_string(r.object["created"].get<long long>());
  auto list = get(client, "checkout/sessions", {{"created[gte]", created}, {"limit", "10"}, {"status", "open"}});
  REQUIRE(list.ok);
  CHECK(list.object["data"].size() == 1);
  CHECK(list.object["has_more"] == false);
  auto last = fake.requests("/v1/checkout/sessions").back();
  CHECK(last["method"] == "GET");
  CHECK(last["headers"].count("idempotency-key") == 0);
  CHECK(last["query"] == "created%5Bgte%5D=" + created + "&limit=10&status=open");

  // Paging: limit 1 and starting_after.
  REQUIRE(post(client, "checkout/sessions", checkout("j0002", 3000), "job-j0002-checkout").ok);
  auto page1 = get(client, "checkout/sessions", {{"limit", "1"}});
  REQUIRE(page1.ok);
  CHECK(page1.object["has_more"] == true);
  CHECK(page1.object["data"][0]["metadata"]["job_id"] == "j0002");
  auto page2 = get(client, "checkout/sessions",
                   {{"limit", "1"}, {"starting_after", page1.object["data"][0]["id"].get<std::string>()}});
  REQUIRE(page2.ok);
  CHECK(page2.object["has_more"] == false);
  CHECK(page2.object["data"][0]["id"] == id);
}

TEST_CASE("idempotency: the same key and parameters replay the answer; other parameters are refused") {
  test::fake_stripe fake{key};
  stripe_client client{options(fake.root())};
  auto first = post(client, "checkout/sessions", checkout("j0003", 2500), "job-j0003-checkout");
  auto again = post(client, "checkout/sessions", checkout("j0003", 2500), "job-j0003-checkout");
  REQUIRE(first.ok);
  REQUIRE(again.ok);
  CHECK(again.object["id"] == first.object["id"]);
  CHECK(get(client, "checkout/sessions").object["data"].size() == 1);

  auto other = post(client, "checkout/sessions", checkout("j0003", 9900), "job-j0003-checkout");
  CHECK_FALSE(other.ok);
  CHECK(other.status == 400);
  CHECK(other.error_code == "stripe_idempotency_error");
  CHECK(other.stripe_type == "idempotency_error");
  CHECK(other.error_message.find("same parameters") != std::string::npos);
  CHECK(other.tries == 1);

  // A POST without a key is refused before anything is sent.
  auto before = fake.requests().size();
  auto none = post(client, "checkout/sessions", checkout("j0004", 2500), "");
  CHECK(none.error_code == "stripe_invalid_request");
  CHECK(none.error_message.find("Idempotency-Key") != std::string::npos);
  auto bad_path = get(client, "../admin");
  CHECK(bad_path.error_code == "stripe_invalid_request");
  CHECK(fake.requests().size() == before);
}

TEST_CASE("retries: 5xx and 429 again with the same key, at most max_retries times") {
  test::fake_stripe fake{key};
  const std::string path = "/v1/checkout/sessions";
  json api_error = {{"error", {{"type", "api_error"}, {"message", "An unknown error occurred"}}}};

  SUBCASE("two 500s then success: three tries, one key") {
    stripe_client client{options(fake.root())};
    fake.script({{"path", path}, {"count", 2}, {"status", 500}, {"body", api_error}});
    auto r = post(client, "checkout/sessions", checkout("j0005", 2500), "job-j0005-checkout");
    REQUIRE_MESSAGE(r.ok, r.error_message);
    CHECK(r.tries == 3);
    auto seen = fake.requests(path);
    REQUIRE(seen.size() == 3);
    for (auto& s : seen) {
      CHECK(s["headers"]["idempotency-key"] == "job-j0005-checkout");
      CHECK(form_of(s) == form_of(seen[0]));
    }
    CHECK(client.stats().retries == 2);
    CHECK(client.stats().succeeded == 1);
    CHECK(client.stats().in_flight == 0);
  }
  SUBCASE("503 every time: max_retries + 1 tries, then stripe_unavailable") {
    auto o = options(fake.root());
    o.max_retries = 3;
    stripe_client client{o};
    fake.script({{"path", path}, {"count", 10}, {"status", 503}, {"body", api_error}});
    auto r = post(client, "checkout/sessions", checkout("j0006", 2500), "job-j0006-checkout");
    CHECK_FALSE(r.ok);
    CHECK(r.status == 503);
    CHECK(r.tries == 4);
    CHECK(r.error_code == "stripe_unavailable");
    CHECK(r.error_message.find("An unknown error occurred") != std::string::npos);
    CHECK(r.error_message.find("(after 4 tries)") != std::string::npos);
    CHECK(fake.requests(path).size() == 4);
  }
  SUBCASE("Stripe-Should-Retry: false on a 500 is not retried; true on a 400 is") {
    stripe_client client{options(fake.root())};
    fake.script({{"path", path}, {"count", 1}, {"status", 500}, {"body", api_error},
                 {"headers", {{"Stripe-Should-Retry", "false"}}}});
    auto r = post(client, "checkout/sessions", checkout("j0007", 2500), "job-j0007-checkout");
    CHECK(r.error_code == "stripe_unavailable");
    CHECK(r.tries == 1);
    CHECK(fake.requests(path).size() == 1);
    json lock = {{"error", {{"type", "invalid_request_error"}, {"message", "try again"}}}};
    fake.script({{"path", path}, {"count", 1}, {"status", 400}, {"body", lock},
                 {"headers", {{"Stripe-Should-Retry", "true"}}}});
    auto ok = post(client, "checkout/sessions", checkout("j0008", 2500), "job-j0008-checkout");
    CHECK(ok.ok);
    CHECK(ok.tries == 2);
  }
  SUBCASE("429 with Retry-After waits (capped at retry_max); a 409 lock is retried") {
    auto o = options(fake.root());
    o.retry_base = 1ms;
    o.retry_max = 300ms;
    stripe_client client{o};
    json rate = {{"error", {{"type", "invalid_request_error"}, {"code", "rate_limit"}, {"message", "Too many"}}}};
    fake.script({{"path", path}, {"count", 1}, {"status", 429}, {"body", rate}, {"headers", {{"Retry-After", "5"}}}});
    auto started = std::chrono::steady_clock::now();
    auto r = post(client, "checkout/sessions", checkout("j0009", 2500), "job-j0009-checkout");
    auto took = std::chrono::steady_clock::now() - started;
    CHECK(r.ok);
    CHECK(r.tries == 2);
    CHECK(took >= 280ms);  // Retry-After 5 s, capped at 300 ms; the base alone would be 1 ms
    CHECK(took < 4s);
    json conflict = {{"error", {{"type", "idempotency_error"}, {"message", "in progress"}}}};
    fake.script({{"path", path}, {"count", 1}, {"status", 409}, {"body", conflict}});
    auto r2 = post(client, "checkout/sessions", checkout("j0010", 2500), "job-j0010-checkout");
    CHECK(r2.ok);
    CHECK(r2.tries == 2);
  }
  SUBCASE("nothing listening: stripe_unreachable after every try") {
    auto o = options("http://127.0.0.1:1");
    o.max_retries = 1;
    stripe_client client{o};
    auto r = post(client, "checkout/sessions", checkout("j0011", 2500), "job-j0011-checkout");
    CHECK(r.error_code == "stripe_unreachable");
    CHECK(r.status == 0);
    CHECK(r.tries == 2);
  }
}

TEST_CASE("Stripe's errors become codes with Stripe's message and param, not retried") {
  test::fake_stripe fake{key};
  stripe_client client{options(fake.root())};
  SUBCASE("a card error") {
    json declined = {{"error",
                      {{"type", "card_error"},
                       {"code", "card_declined"},
                       {"decline_code", "generic_decline"},
                       {"message", "Your card was declined."},
                       {"param", "payment_method"}}}};
    fake.script({{"path", "/v1/checkout/sessions"}, {"status", 402}, {"body", declined}});
    auto r = post(client, "checkout/sessions", checkout("j0012", 2500), "job-j0012-checkout");
    CHECK(r.error_code == "stripe_card_error");
    CHECK(r.decline_code == "generic_decline");
    CHECK(r.param == "payment_method");
    CHECK(r.error_message.find("Your card was declined.") != std::string::npos);
    CHECK(r.tries == 1);
  }
  SUBCASE("an invalid request, as the fake itself answers it") {
    auto params = checkout("j0013", 2500);
    params["line_items"][0]["price_data"].erase("currency");
    auto r = post(client, "checkout/sessions", params, "job-j0013-checkout");
    CHECK(r.error_code == "stripe_invalid_request");
    CHECK(r.param == "line_items[0][price_data][currency]");
    CHECK(r.error_message.find("Missing required param") != std::string::npos);
    CHECK(r.tries == 1);
  }
  SUBCASE("a missing object") {
    auto r = get(client, "checkout/sessions/cs_test_nothing");
    CHECK(r.error_code == "stripe_not_found");
    CHECK(r.stripe_code == "resource_missing");
    CHECK(r.status == 404);
  }
  SUBCASE("a wrong key: stripe_auth_failed naming the variable, the key nowhere") {
    const std::string wrong = "sk_test_51WrongKeyWrongKeyWrong9876";
    stripe_client other{options(fake.root(), wrong)};
    auto r = post(other, "checkout/sessions", checkout("j0014", 2500), "job-j0014-checkout");
    CHECK(r.error_code == "stripe_auth_failed");
    CHECK(r.tries == 1);
    CHECK(r.error_message.find("STRIPE_SECRET_KEY") != std::string::npos);
    CHECK(r.error_message.find("9876") == std::string::npos);
    CHECK(r.error_message.find("sk_test_") == std::string::npos);
  }
}

TEST_CASE("refunds: partial, then the rest, then nothing left; more than is left refused") {
  test::fake_stripe fake{key};
  stripe_client client{options(fake.root())};
  auto session = post(client, "checkout/sessions", checkout("j0015", 5000), "job-j0015-checkout");
  REQUIRE(session.ok);
  auto id = session.object["id"].get<std::string>();
  REQUIRE(fake.pay(id) == 303);
  auto paid = get(client, "checkout/sessions/" + id);
  REQUIRE(paid.ok);
  CHECK(paid.object["status"] == "complete");
  CHECK(paid.object["payment_status"] == "paid");
  auto pi = paid.object["payment_intent"].get<std::string>();
  CHECK(pi.rfind("pi_", 0) == 0);
  auto intent = get(client, "payment_intents/" + pi);
  REQUIRE(intent.ok);
  CHECK(intent.object["amount_received"] == 5000);

  auto partial = post(client, "refunds", {{"payment_intent", pi}, {"amount", 2000}}, "job-j0015-refund-1");
  REQUIRE_MESSAGE(partial.ok, partial.error_message);
  CHECK(partial.object["object"] == "refund");
  CHECK(partial.object["amount"] == 2000);
  CHECK(partial.object["status"] == "succeeded");

  auto too_much = post(client, "refunds", {{"payment_intent", pi}, {"amount", 3500}}, "job-j0015-refund-2");
  CHECK(too_much.error_code == "stripe_invalid_request");
  CHECK(too_much.param == "amount");
  CHECK(too_much.error_message.find("greater than unrefunded amount") != std::string::npos);

  auto rest = post(client, "refunds", {{"payment_intent", pi}}, "job-j0015-refund-3");
  REQUIRE(rest.ok);
  CHECK(rest.object["amount"] == 3000);

  auto nothing = post(client, "refunds", {{"payment_intent", pi}}, "job-j0015-refund-4");
  CHECK(nothing.error_code == "stripe_invalid_request");
  CHECK(nothing.stripe_code == "charge_already_refunded");

  auto list = get(client, "refunds", {{"payment_intent", pi}});
  REQUIRE(list.ok);
  CHECK(list.object["data"].size() == 2);
  auto unknown = post(client, "refunds", {{"payment_intent", "pi_nothing"}}, "job-x-refund");
  CHECK(unknown.error_code == "stripe_invalid_request");
  CHECK(unknown.param == "payment_intent");
}

TEST_CASE("dry-run: no key, nothing sent, every answer says so and carries what would be sent") {
  test::fake_stripe fake{key};
  auto o = options(fake.root(), "");
  stripe_client client{o};
  CHECK(client.dry_run());
  auto params = checkout("j0016", 2500);
  auto r = post(client, "checkout/sessions", params, "job-j0016-checkout");
  CHECK_FALSE(r.ok);
  CHECK(r.dry_run);
  CHECK(r.error_code == "stripe_dry_run");
  CHECK(r.error_message.find("STRIPE_SECRET_KEY is not set") != std::string::npos);
  CHECK(r.object.is_null()); // never a fake object
  CHECK(r.would_send["method"] == "POST");
  CHECK(r.would_send["path"] == "/v1/checkout/sessions");
  CHECK(r.would_send["idempotency_key"] == "job-j0016-checkout");
  CHECK(r.would_send["params"]["metadata[job_id]"] == "j0016");
  CHECK(r.would_send["params"]["line_items[0][price_data][unit_amount]"] == "2500");
  auto g = get(client, "checkout/sessions", {{"limit", "3"}});
  CHECK(g.dry_run);
  CHECK(g.would_send["method"] == "GET");
  CHECK(g.would_send["idempotency_key"].is_null());
  CHECK(fake.requests().empty());
  CHECK(client.stats().dry_runs == 2);
  CHECK(client.stats().in_flight == 0);

  o.mode = stripe_mode::live;
  stripe_client live{o};
  auto l = post(live, "refunds", {{"payment_intent", "pi_1"}}, "k");
  CHECK(l.error_message.find("STRIPE_SECRET_LIVE is not set (STRIPE_MODE=live)") != std::string::npos);
}

TEST_CASE("stopping the client completes a call waiting for its retry with stripe_unavailable") {
  test::fake_stripe fake{key};
  auto o = options(fake.root());
  o.retry_max = 30s;
  auto client = std::make_unique<stripe_client>(o);
  fake.script({{"path", "/v1/refunds"}, {"status", 503}, {"headers", {{"Retry-After", "20"}}}});
  auto p = std::make_shared<std::promise<stripe_result>>();
  auto f = p->get_future();
  client->post("refunds", {{"payment_intent", "pi_1"}}, "job-stop-refund",
               [p](stripe_result r) { p->set_value(std::move(r)); });
  // The first try has been answered once the fake recorded it and the stats count a retry.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (client->stats().retries == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  REQUIRE(client->stats().retries == 1);
  CHECK(f.wait_for(0s) == std::future_status::timeout);
  client.reset();
  REQUIRE(f.wait_for(0s) == std::future_status::ready);
  auto r = f.get();
  CHECK(r.error_code == "stripe_unavailable");
  CHECK(r.error_message.find("stopping") != std::string::npos);
  CHECK(fake.requests("/v1/refunds").size() == 1);
}
