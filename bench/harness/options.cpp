#include "bench/harness/options.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace bench {

using nlohmann::json;

const char* usage_text =
  "usage: echopilot-bench --url http://127.0.0.1:PORT/PATH [options]\n"
  "  -c, --connections N   connections (default 32)\n"
  "  -d, --duration T      measured time, e.g. 10s, 500ms (default 10s)\n"
  "      --warmup T        time before measuring (default 0)\n"
  "  -t, --threads N       event-loop threads (default 1)\n"
  "      --rate R          constant rate in requests/s (default: closed loop)\n"
  "  -H, --header 'K: V'   a request header (repeatable)\n"
  "  -m, --method M        GET, POST, PUT, PATCH, DELETE (default GET)\n"
  "      --body TEXT       request body\n"
  "      --body-file F     request body from a file\n"
  "      --profile F       a mixed profile (JSON); replaces method, path and body\n"
  "      --timeout T       a request with no answer after T is a timeout (default 2s)\n"
  "      --seed N          seed of the profile's random choice (default 1)\n"
  "      --json F          results as JSON into F ('-' for stdout)\n"
  "Only loopback targets are accepted.\n";

namespace {

bool is_loopback(const std::string& host) {
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

std::optional<unsigned long> parse_count(const std::string& s) {
  unsigned long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

const char* methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

bool valid_method(const std::string& m) {
  for (auto x : methods)
    if (m == x)
      return true;
  return false;
}

} // namespace

std::variant<url, std::string> parse_url(const std::string& text) {
  const std::string scheme = "http://";
  if (text.rfind(scheme, 0) != 0)
    return "the URL must start with http:// (got '" + text + "')";
  auto rest = text.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  url u;
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return "malformed IPv6 address in '" + text + "'";
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return "malformed URL '" + text + "'";
      port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos)
      port = authority.substr(colon + 1);
  }
  if (u.host.empty())
    return "no host in '" + text + "'";
  if (u.host == "localhost")
    u.host = "127.0.0.1";
  if (!is_loopback(u.host))
    return "refusing target '" + u.host + "': load is only sent to loopback addresses (127.0.0.0/8, ::1)";
  if (!port.empty()) {
    auto p = parse_count(port);
    if (!p || *p == 0 || *p > 65535)
      return "bad port '" + port + "'";
    u.port = static_cast<std::uint16_t>(*p);
  }
  return u;
}

std::optional<double> parse_duration(const std::string& text) {
  if (text.empty())
    return std::nullopt;
  double scale = 1;
  std::string num = text;
  auto ends = [&](const std::string& suf) {
    return num.size() > suf.size() && num.compare(num.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends("ms")) {
    scale = 1e-3;
    num.resize(num.size() - 2);
  } else if (ends("s")) {
    num.resize(num.size() - 1);
  } else if (ends("m")) {
    scale = 60;
    num.resize(num.size() - 1);
  }
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (end == num.c_str() || *end != '\0' || !(v >= 0) || v > 1e7)
    return std::nullopt;
  return v * scale;
}

std::variant<std::vector<request_spec>, std::string> parse_profile(const json& doc) {
  if (!doc.is_object() || !doc.contains("requests") || !doc["requests"].is_array())
    return std::string{"a profile is an object with a 'requests' array"};
  std::vector<request_spec> out;
  std::size_t i = 0;
  for (auto& r : doc["requests"]) {
    auto where = "requests[" + std::to_string(i++) + "]";
    if (!r.is_object())
      return where + " must be an object";
    request_spec s;
    s.name = where;
    for (auto& [k, v] : r.items()) {
      if (k == "name") {
        if (!v.is_string())
          return where + ".name must be a string";
        s.name = v.get<std::string>();
      } else if (k == "weight") {
        if (!v.is_number_unsigned() || v.get<unsigned>() == 0)
          return where + ".weight must be a whole number above 0";
        s.weight = v.get<unsigned>();
      } else if (k == "method") {
        if (!v.is_string() || !valid_method(v.get<std::string>()))
          return where + ".method must be GET, POST, PUT, PATCH, DELETE or HEAD";
        s.method = v.get<std::string>();
      } else if (k == "path") {
        if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>()[0] != '/')
          return where + ".path must be a string starting with /";
        s.path = v.get<std::string>();
      } else if (k == "headers") {
        if (!v.is_object())
          return where + ".headers must be an object of strings";
        for (auto& [hk, hv] : v.items()) {
          if (!hv.is_string())
            return where + ".headers." + hk + " must be a string";
          s.headers.emplace_back(hk, hv.get<std::string>());
        }
      } else if (k == "body") {
        s.body = v.is_string() ? v.get<std::string>() : v.dump();
        bool typed = false;
        for (auto& [hk, hv] : s.headers)
          typed = typed || hk == "Content-Type";
        if (!v.is_string() && !typed)
          s.headers.emplace_back("Content-Type", "application/json");
      } else {
        return where + " has an unknown field '" + k + "'";
      }
    }
    if (!r.contains("path"))
      return where + " needs a 'path'";
    out.push_back(std::move(s));
  }
  if (out.empty())
    return std::string{"a profile needs at least one request"};
  return out;
}

std::variant<cli_options, std::string> parse_command_line(const std::vector<std::string>& args) {
  cli_options o;
  auto& r = o.run;
  std::optional<url> target;
  request_spec single;
  std::string profile_path;
  std::vector<std::pair<std::string, std::string>> headers;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size())
        return std::nullopt;
      return args[++i];
    };
    auto v = a == "--help" || a == "-h" ? std::optional<std::string>{} : value();
    if (a == "--help" || a == "-h")
      return std::string{usage_text};
    if (!v)
      return a + " needs a value";
    if (a == "--url") {
      auto u = parse_url(*v);
      if (auto* e = std::get_if<std::string>(&u))
        return *e;
      target = std::get<url>(u);
    } else if (a == "-c" || a == "--connections") {
      auto n = parse_count(*v);
      if (!n || *n == 0 || *n > 10000)
        return a + " must be a number from 1 to 10000";
      r.connections = static_cast<unsigned>(*n);
    } else if (a == "-t" || a == "--threads") {
      auto n = parse_count(*v);
      if (!n || *n == 0 || *n > 64)
        return a + " must be a number from 1 to 64";
      r.threads = static_cast<unsigned>(*n);
    } else if (a == "-d" || a == "--duration" || a == "--warmup" || a == "--timeout") {
      auto d = parse_duration(*v);
      if (!d || (a != "--warmup" && *d <= 0))
        return a + " must be a duration like 10s or 500ms, not '" + *v + "'";
      (a == "--warmup" ? r.warmup_s : a == "--timeout" ? r.timeout_s : r.duration_s) = *d;
    } else if (a == "--rate") {
      char* end = nullptr;
      double x = std::strtod(v->c_str(), &end);
      if (*end != '\0' || !(x > 0) || x > 1e8)
        return "--rate must be a positive number of requests per second";
      r.rate = x;
    } else if (a == "-H" || a == "--header") {
      auto colon = v->find(':');
      if (colon == std::string::npos || colon == 0)
        return "a header is 'Name: value', not '" + *v + "'";
      auto val = v->substr(colon + 1);
      while (!val.empty() && val.front() == ' ')
        val.erase(0, 1);
      headers.emplace_back(v->substr(0, colon), val);
    } else if (a == "-m" || a == "--method") {
      if (!valid_method(*v))
        return "--method must be GET, POST, PUT, PATCH, DELETE or HEAD";
      single.method = *v;
    } else if (a == "--body") {
      single.body = *v;
    } else if (a == "--body-file") {
      std::ifstream in{*v, std::ios::binary};
      if (!in)
        return "cannot read the body file '" + *v + "'";
      std::stringstream buf;
      buf << in.rdbuf();
      single.body = buf.str();
    } else if (a == "--profile") {
      profile_path = *v;
    } else if (a == "--seed") {
      auto n = parse_count(*v);
      if (!n)
        return "--seed must be a whole number";
      r.seed = *n;
    } else if (a == "--json") {
      o.json_path = *v;
    } else {
      return "unknown option '" + a + "' (see --help)";
    }
  }
  if (!target)
    return std::string{"--url is required (see --help)"};
  r.host = target->host;
  r.port = target->port;
  if (!profile_path.empty()) {
    std::ifstream in{profile_path};
    if (!in)
      return "cannot read the profile '" + profile_path + "'";
    std::stringstream buf;
    buf << in.rdbuf();
    auto doc = json::parse(buf.str(), nullptr, false);
    if (doc.is_discarded())
      return "the profile '" + profile_path + "' is not valid JSON";
    auto p = parse_profile(doc);
    if (auto* e = std::get_if<std::string>(&p))
      return "profile: " + *e;
    r.requests = std::get<std::vector<request_spec>>(p);
  } else {
    single.path = target->path;
    if (!single.body.empty() && single.method == "GET")
      single.method = "POST";
    r.requests = {single};
  }
  for (auto& req : r.requests)
    req.headers.insert(req.headers.begin(), headers.begin(), headers.end());
  if (r.threads > r.connections)
    r.threads = r.connections;
  return o;
}

} // namespace bench
