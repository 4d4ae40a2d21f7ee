// The Stripe connector's pure parts: nested form keys, form encoding, the
// error JSON mapped to codes and messages, the retry rule and the key check
// (never quoting the key).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <stdexcept>

#include "connectors/stripe.hpp"

using namespace echopilot::connectors;
using nlohmann::json;

TEST_CASE("flatten_form: objects as a[b], arrays as a[0], scalars as Stripe reads them") {
  json params = {{"mode", "payment"},
                 {"metadata", {{"job_id", "j0123"}, {"email", "a@b.c"}}},
                 {"line_items",
                  json::array({{{"quantity", 1},
                                {"price_data",
                                 {{"currency", "usd"},
                                  {"unit_amount", 2500},
                                  {"product_data", {{"name", "Transcript"}}}}}}})},
                 {"allow_promotion_codes", false},
                 {"ratio", 2.0},
                 {"fraction", 0.25},
                 {"dropped", nullptr}};
  auto form = flatten_form(params);
  form_params expected{{"allow_promotion_codes", "false"},
                       {"fraction", "0.25"},
                       {"line_items[0][price_data][currency]", "usd"},
                       {"line_items[0][price_data][product_data][name]", "Transcript"},
                       {"line_items[0][price_data][unit_amount]", "2500"},
                       {"line_items[0][quantity]", "1"},
                       {"metadata[email]", "a@b.c"},
                       {"metadata[job_id]", "j0123"},
                       {"mode", "payment"},
                       {"ratio", "2"}};
  CHECK(form == expected);
  CHECK(flatten_form(json::object()).empty());
  CHECK_THROWS_AS(flatten_form(json::array({1})), std::invalid_argument);
  CHECK_THROWS_AS(flatten_form("x"), std::invalid_argument);
  // Negative and large integers keep their digits.
  CHECK(flatten_form({{"n", -7}, {"big", 9007199254740993LL}})
        == form_params{{"big", "9007199254740993"}, {"n", "-7"}});
}

TEST_CASE("form_encode: unreserved characters kept, everything else %XX") {
  CHECK(form_encode({}) == "");
  CHECK(form_encode({{"metadata[job_id]", "j 1&2=3"}}) == "metadata%5Bjob_id%5D=j%201%262%3D3");
  CHECK(form_encode({{"a", "A-z_0.9~"}, {"b", ""}}) == "a=A-z_0.9~&b=");
  CHECK(form_encode({{"url", "https://x.test/p?s={CHECKOUT_SESSION_ID}"}})
        == "url=https%3A%2F%2Fx.test%2Fp%3Fs%3D%7BCHECKOUT_SESSION_ID%7D");
  CHECK(form_encode({{"name", "caf\xc3\xa9+"}}) == "name=caf%C3%A9%2B");
}

TEST_CASE("parse_stripe_response: a 2xx object is ok, anything else a clear error") {
  auto ok = parse_stripe_response(200, R"({"id":"cs_test_1","object":"checkout.session"})");
  CHECK(ok.ok);
  CHECK(ok.status == 200);
  CHECK(ok.object["id"] == "cs_test_1");
  CHECK(ok.error_code.empty());

  auto not_json = parse_stripe_response(200, "<html>");
  CHECK_FALSE(not_json.ok);
  CHECK(not_json.error_code == "stripe_bad_response");

  struct row {
    long status;
    const char* type;
    const char* expected;
  };
  for (const row& r : {row{402, "card_error", "stripe_card_error"},
                                        row{400, "card_error", "stripe_card_error"},
                                        row{400, "invalid_request_error", "stripe_invalid_request"},
                                        row{400, "idempotency_error", "stripe_idempotency_error"},
                                        row{409, "invalid_request_error", "stripe_idempotency_error"},
                                        row{401, "invalid_request_error", "stripe_auth_failed"},
                                        row{403, "invalid_request_error", "stripe_permission_denied"},
                                        row{404, "invalid_request_error", "stripe_not_found"},
                                        row{429, "invalid_request_error", "stripe_rate_limited"},
                                        row{500, "api_error", "stripe_unavailable"},
                                        row{503, "", "stripe_unavailable"},
                                        row{302, "", "stripe_bad_response"}}) {
    // (Copies: a structured binding cannot be captured by doctest's lambdas.)
    auto status = r.status;
    auto type = r.type;
    auto expected = r.expected;
    CAPTURE(status);
    CAPTURE(type);
    json body = {{"error", {{"type", type}, {"message", "m"}}}};
    CHECK(parse_stripe_response(status, body.dump()).error_code == expected);
  }

  auto card = parse_stripe_response(
    402, R"({"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
              "message":"Your card has insufficient funds.","param":"payment_method"}})");
  CHECK(card.stripe_type == "card_error");
  CHECK(card.stripe_code == "card_declined");
  CHECK(card.decline_code == "insufficient_funds");
  CHECK(card.param == "payment_method");
  CHECK(card.error_message
        == "Stripe answered HTTP 402 (card_error, card_declined, insufficient_funds): Your card has insufficient "
           "funds. [param: payment_method]");

  // Stripe's 401 message quotes part of the key: it is replaced.
  auto auth = parse_stripe_response(
    401, R"({"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****abcd"}})");
  CHECK(auth.error_code == "stripe_auth_failed");
  CHECK(auth.error_message.find("sk_test_") == std::string::npos);
  CHECK(auth.error_message.find("STRIPE_SECRET_KEY") != std::string::npos);

  auto html = parse_stripe_response(502, "<html>bad gateway</html>");
  CHECK(html.error_code == "stripe_unavailable");
  CHECK(html.error_message == "Stripe answered HTTP 502");
}

TEST_CASE("stripe_should_retry: the header decides, else 409, 429, 5xx and no answer") {
  CHECK(stripe_should_retry(0, ""));
  CHECK(stripe_should_retry(409, ""));
  CHECK(stripe_should_retry(429, ""));
  CHECK(stripe_should_retry(500, ""));
  CHECK(stripe_should_retry(503, ""));
  CHECK_FALSE(stripe_should_retry(400, ""));
  CHECK_FALSE(stripe_should_retry(401, ""));
  CHECK_FALSE(stripe_should_retry(402, ""));
  CHECK_FALSE(stripe_should_retry(404, ""));
  CHECK_FALSE(stripe_should_retry(500, "false"));
  CHECK_FALSE(stripe_should_retry(429, "false"));
  CHECK(stripe_should_retry(400, "true"));
  CHECK_FALSE(stripe_should_retry(200, "true"));
}

TEST_CASE("check_stripe_key: the mode's key shape only, naming the variable and never the key") {
  const std::string test_key = "sk_test_51HxYzAbCdEfGhIjKlMn";
  const std::string live_key = "sk_live_51HxYzAbCdEfGhIjKlMn";
  CHECK(check_stripe_key(stripe_mode::test, "") == "");
  CHECK(check_stripe_key(stripe_mode::live, "") == "");
  CHECK(check_stripe_key(stripe_mode::test, test_key) == "");
  CHECK(check_stripe_key(stripe_mode::test, "rk_test_51HxYzAbCdEfGhIjKlMn") == "");
  CHECK(check_stripe_key(stripe_mode::live, live_key) == "");
  CHECK(check_stripe_key(stripe_mode::live, "rk_live_51HxYzAbCdEfGhIjKlMn") == "");

  auto live_refuses = check_stripe_key(stripe_mode::live, test_key);
  CHECK(live_refuses.find("STRIPE_SECRET_LIVE") != std::string::npos);
  CHECK(live_refuses.find("STRIPE_MODE=live") != std::string::npos);
  CHECK(live_refuses.find(test_key) == std::string::npos);
  CHECK(live_refuses.find("51HxYz") == std::string::npos);
  CHECK_FALSE(check_stripe_key(stripe_mode::live, "rk_test_51HxYzAbCdEfGhIjKlMn").empty());

  auto test_refuses = check_stripe_key(stripe_mode::test, live_key);
  CHECK(test_refuses.find("STRIPE_SECRET_KEY") != std::string::npos);
  CHECK(test_refuses.find("STRIPE_MODE=test") != std::string::npos);
  CHECK(test_refuses.find("51HxYz") == std::string::npos);
  CHECK_FALSE(check_stripe_key(stripe_mode::test, "rk_live_51HxYzAbCdEfGhIjKlMn").empty());

  for (std::string odd : {"pk_test_51HxYzAbCdEfGhIjKlMn", "whsec_51HxYzAbCdEfGhIjKlMn", "sk_test_x", "sk_test_short",
                          "sk_test_51HxYz AbCdEfGhIjKlMn", "sk_test_51HxYz\r\nX-Evil: 1",
                          "SK_TEST_51HxYzAbCdEfGhIjKlMn"}) {
    CAPTURE(odd);
    auto why = check_stripe_key(stripe_mode::test, odd);
    CHECK(why.find("not a Stripe secret key") != std::string::npos);
    CHECK(why.find(odd) == std::string::npos);
  }
}

TEST_CASE("stripe_client: a key that does not suit the mode stops the start; no key is a dry run") {
  stripe_options o;
  o.mode = stripe_mode::live;
  o.secret_key = "sk_test_51HxYzAbCdEfGhIjKlMn";
  CHECK_THROWS_WITH_AS(stripe_client{o}, doctest::Contains("STRIPE_SECRET_LIVE"), std::runtime_error);
  o.secret_key.clear();
  stripe_client dry{o};
  CHECK(dry.dry_run());
  o.api_base = "ftp://example.test";
  CHECK_THROWS_AS(stripe_client{o}, std::runtime_error);
}
