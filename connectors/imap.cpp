// The IMAP connector (connectors/imap.hpp). libcurl connects, negotiates TLS
// (implicit or STARTTLS) and logs in (CURLOPT_CONNECT_ONLY); the commands
// then go over that connection with curl_easy_send/recv. libcurl's own
// CURLOPT_CUSTOMREQUEST drops the literals of a FETCH answer (checked with
// curl 7.88 against dovecot: "* 1 FETCH (UID 1 BODY[HEADER] {251}" and
// nothing more), and its URL fetch uses BODY[] which marks a message seen;
// speaking the few commands here keeps BODY.PEEK and the literals.
#include "connectors/imap.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <variant>

#include <curl/curl.h>
#include <poll.h>

namespace echopilot::connectors {

using steady = std::chrono::steady_clock;

std::uint16_t imap_port_of(const imap_options& o) {
  if (o.port != 0)
    return o.port;
  return o.tls == imap_tls::implicit ? 993 : 143;
}

std::string imap_missing(const imap_options& o) {
  std::string out;
  for (auto [name, v] : {std::pair{"IMAP_HOST", &o.host}, std::pair{"IMAP_USER", &o.user},
                         std::pair{"IMAP_PASS", &o.pass}})
    if (v->empty())
      out += (out.empty() ? "" : ", ") + std::string{name};
  return out;
}

namespace {

std::once_flag curl_once;

std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty())
    return text;
  static const std::string mask = "<password>";
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + mask.size()))
    text.replace(at, secret.size(), mask);
  return text;
}

/// One untagged answer: its text with each literal beside the text before it.
struct untagged {
  std::vector<std::pair<std::string, std::string>> pieces; ///< text, then the literal after it
  std::string tail;                                        ///< text after the last literal
};

struct answer {
  std::string status; ///< OK, NO, BAD ("" when failed)
  std::string text;   ///< the rest of the tagged line
  std::vector<untagged> data;
};

struct failure {
  std::string code;
  std::string message;
};

/// A logged-in connection: libcurl's easy handle in connect-only mode.
class session {
public:
  explicit session(const imap_options& o) : o_(o), deadline_(steady::now() + o.timeout) {
  }
  ~session() {
    if (e_ != nullptr)
      curl_easy_cleanup(e_);
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  std::optional<failure> open() {
    e_ = curl_easy_init();
    if (e_ == nullptr)
      return failure{"imap_unreachable", "libcurl could not create a transfer"};
    std::string host = o_.host.find(':') != std::string::npos ? "[" + o_.host + "]" : o_.host;
    std::string url = std::string{o_.tls == imap_tls::implicit ? "imaps://" : "imap://"} + host + ":"
                      + std::to_string(imap_port_of(o_)) + "/";
    curl_easy_setopt(e_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e_, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(e_, CURLOPT_USERNAME, o_.user.c_str());
    curl_easy_setopt(e_, CURLOPT_PASSWORD, o_.pass.c_str());
    curl_easy_setopt(e_, CURLOPT_USE_SSL,
                     o_.tls == imap_tls::starttls ? static_cast<long>(CURLUSESSL_ALL)
                                                  : static_cast<long>(CURLUSESSL_NONE));
    curl_easy_setopt(e_, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o_.connect_timeout.count()));
    curl_easy_setopt(e_, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.timeout.count()));
    curl_easy_setopt(e_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e_, CURLOPT_ERRORBUFFER, errbuf_);
    auto code = curl_easy_perform(e_);
    if (code != CURLE_OK) {
      std::string why = errbuf_[0] != '\0' ? std::string{errbuf_} : curl_easy_strerror(code);
      why = scrub(why, o_.pass);
      switch (code) {
      case CURLE_LOGIN_DENIED:
        return failure{"imap_auth_failed", "the IMAP server refused the login of IMAP_USER (check IMAP_USER "
                                           "and IMAP_PASS): " + why};
      case CURLE_OPERATION_TIMEDOUT:
        return failure{"imap_timeout", "the IMAP server did not answer in time: " + why};
      case CURLE_USE_SSL_FAILED:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
        return failure{"imap_tls_failed", "TLS with the IMAP server failed (check IMAP_TLS and IMAP_PORT): "
                                            + why};
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_CONNECT:
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_GOT_NOTHING:
        return failure{"imap_unreachable", "the IMAP server at " + url + " cannot be reached: " + why};
      default:
        return failure{"imap_rejected", "the IMAP connection failed: " + why};
      }
    }
    curl_socket_t s = CURL_SOCKET_BAD;
    curl_easy_getinfo(e_, CURLINFO_ACTIVESOCKET, &s);
    sock_ = s;
    return std::nullopt;
  }

  /// Sends a command and reads its answer (bounded by the total timeout).
  std::variant<answer, failure> command(const std::string& text) {
    auto tag = "E" + std::to_string(++tag_);
    auto deadline = deadline_;
    if (auto f = send_all(tag + " " + text + "\r\n", deadline))
      return *f;
    answer a;
    std::size_t bytes = 0;
    while (true) {
      auto line = read_line(deadline);
      if (auto* f = std::get_if<failure>(&line))
        return *f;
      auto& l = std::get<std::string>(line);
      bytes += l.size();
      if (l.rfind(tag + " ", 0) == 0) {
        auto rest = l.substr(tag.size() + 1);
        auto sp = rest.find(' ');
        a.status = rest.substr(0, sp);
        a.text = sp == std::string::npos ? std::string{} : rest.substr(sp + 1);
        return a;
      }
      if (l.rfind("* ", 0) != 0 && l.rfind("+ ", 0) != 0)
        return failure{"imap_bad_response", "the IMAP server sent a line that is not IMAP"};
      untagged u;
      // A line ending in {n}: n bytes of literal follow, then the line goes on.
      while (true) {
        auto open = l.rfind('{');
        if (l.empty() || l.back() != '}' || open == std::string::npos) {
          u.tail = std::move(l);
          break;
        }
        auto n = std::strtoull(l.c_str() + open + 1, nullptr, 10);
        if (bytes + n > o_.max_response)
          return failure{"imap_too_large", "an answer of the IMAP server exceeded "
                                             + std::to_string(o_.max_response) + " bytes"};
        auto lit = read_bytes(static_cast<std::size_t>(n), deadline);
        if (auto* f = std::get_if<failure>(&lit))
          return *f;
        bytes += n;
        u.pieces.emplace_back(l.substr(0, open), std::move(std::get<std::string>(lit)));
        auto more = read_line(deadline);
        if (auto* f = std::get_if<failure>(&more))
          return *f;
        l = std::move(std::get<std::string>(more));
      }
      a.data.push_back(std::move(u));
    }
  }

private:
  std::optional<failure> wait(bool for_read, steady::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0)
      return failure{"imap_timeout", "the IMAP call did not end within " + std::to_string(o_.timeout.count())
                                       + " ms"};
    pollfd p{static_cast<int>(sock_), static_cast<short>(for_read ? POLLIN : POLLOUT), 0};
    poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    return std::nullopt;
  }

  std::optional<failure> send_all(const std::string& data, steady::time_point deadline) {
    std::size_t done = 0;
    while (done < data.size()) {
      std::size_t n = 0;
      auto code = curl_easy_send(e_, data.data() + done, data.size() - done, &n);
      if (code == CURLE_AGAIN) {
        if (auto f = wait(false, deadline))
          return f;
        continue;
      }
      if (code != CURLE_OK)
        return failure{"imap_unreachable", std::string{"the IMAP connection broke: "} + curl_easy_strerror(code)};
      done += n;
    }
    return std::nullopt;
  }

  /// More bytes into buf_.
  std::optional<failure> fill(steady::time_point deadline) {
    char tmp[16384];
    while (true) {
      std::size_t n = 0;
      auto code = curl_easy_recv(e_, tmp, sizeof tmp, &n);
      if (code == CURLE_AGAIN) {
        if (auto f = wait(true, deadline))
          return f;
        continue;
      }
      if (code != CURLE_OK)
        return failure{"imap_unreachable", std::string{"the IMAP connection broke: "} + curl_easy_strerror(code)};
      if (n == 0)
        return failure{"imap_unreachable", "the IMAP server closed the connection"};
      buf_.append(tmp, n);
      return std::nullopt;
    }
  }

  std::variant<std::string, failure> read_line(steady::time_point deadline) {
    while (true) {
      auto eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        auto line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        return line;
      }
      if (buf_.size() > 1'000'000)
        return failure{"imap_bad_response", "the IMAP server sent a line of over 1 MB"};
      if (auto f = fill(deadline))
        return *f;
    }
  }

  std::variant<std::string, failure> read_bytes(std::size_t n, steady::time_point deadline) {
    while (buf_.size() < n)
      if (auto f = fill(deadline))
        return *f;
    auto out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  const imap_options& o_;
  /// One deadline for the whole call: connection, login and every command.
  steady::time_point deadline_;
  CURL* e_ = nullptr;
  curl_socket_t sock_ = CURL_SOCKET_BAD;
  std::string buf_;
  unsigned tag_ = 0;
  char errbuf_[CURL_ERROR_SIZE] = {};
};

std::optional<failure> refused(const std::variant<answer, failure>& r, const std::string& what) {
  if (auto* f = std::get_if<failure>(&r))
    return *f;
  auto& a = std::get<answer>(r);
  if (a.status != "OK")
    return failure{"imap_rejected", "the IMAP server refused " + what + ": " + a.status + " "
                                      + a.text.substr(0, 200)};
  return std::nullopt;
}

/// Selects the mailbox: its UIDVALIDITY (from the OK [UIDVALIDITY n] line).
std::variant<std::uint64_t, failure> select(session& s, const imap_options& o, bool read_only) {
  auto r = s.command(std::string{read_only ? "EXAMINE" : "SELECT"} + " \"" + o.mailbox + "\"");
  if (auto f = refused(r, "to open the mailbox " + o.mailbox))
    return *f;
  for (auto& u : std::get<answer>(r).data)
    if (auto v = parse_uidvalidity(u.tail); v != 0)
      return v;
  return failure{"imap_bad_response", "the IMAP server named no UIDVALIDITY for " + o.mailbox};
}

} // namespace

struct imap_client::impl {
  imap_options opts;
  std::thread thread;
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  /// A call; its argument says whether the connector is stopping.
  std::deque<std::function<void(bool)>> queue;

  void loop() {
    while (true) {
      std::function<void(bool)> job;
      {
        std::unique_lock<std::mutex> lock{mtx};
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping)
          break;
        job = std::move(queue.front());
        queue.pop_front();
      }
      job(false);
    }
    std::deque<std::function<void(bool)>> rest;
    {
      std::lock_guard<std::mutex> lock{mtx};
      rest.swap(queue);
    }
    for (auto& j : rest)
      j(true);
  }

  void submit(std::function<void(bool)> job) {
    {
      std::lock_guard<std::mutex> lock{mtx};
      if (!stopping) {
        queue.push_back(std::move(job));
        cv.notify_one();
        return;
      }
    }
    job(true);
  }
};

imap_client::imap_client(imap_options opts) : d_(std::make_unique<impl>()) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  d_->opts = std::move(opts);
  if (!dry_run())
    d_->thread = std::thread{[d = d_.get()] { d->loop(); }};
}

imap_client::~imap_client() {
  {
    std::lock_guard<std::mutex> lock{d_->mtx};
    d_->stopping = true;
  }
  d_->cv.notify_all();
  if (d_->thread.joinable())
    d_->thread.join();
}

bool imap_client::dry_run() const noexcept {
  return d_->opts.host.empty() || d_->opts.user.empty() || d_->opts.pass.empty();
}

std::string imap_client::dry_run_reason() const {
  auto missing = imap_missing(d_->opts);
  return missing.empty() ? std::string{} : "no " + missing + ": the inbox is not read";
}

std::string imap_client::describe() const {
  auto& o = d_->opts;
  return std::string{o.tls == imap_tls::implicit ? "imaps://" : "imap://"} + o.host + ":"
         + std::to_string(imap_port_of(o)) + "/" + o.mailbox;
}

void imap_client::read_unseen(std::size_t max, std::function<void(imap_batch)> done) {
  if (dry_run()) {
    imap_batch b;
    b.error_code = "imap_dry_run";
    b.error_message = dry_run_reason();
    done(std::move(b));
    return;
  }
  d_->submit([d = d_.get(), max, done = std::move(done)](bool stopping) {
    imap_batch b;
    auto fail = [&](const failure& f) {
      b.ok = false;
      b.messages.clear();
      b.error_code = f.code;
      b.error_message = f.message;
      done(std::move(b));
    };
    if (stopping)
      return fail({"imap_stopping", "the node is stopping"});
    session s{d->opts};
    if (auto f = s.open())
      return fail(*f);
    // EXAMINE: read-only, so nothing here can change a flag.
    auto v = select(s, d->opts, true);
    if (auto* f = std::get_if<failure>(&v))
      return fail(*f);
    b.uidvalidity = std::get<std::uint64_t>(v);
    auto r = s.command("UID SEARCH UNSEEN");
    if (auto f = refused(r, "UID SEARCH UNSEEN"))
      return fail(*f);
    std::vector<std::uint32_t> uids;
    for (auto& u : std::get<answer>(r).data) {
      auto more = parse_search(u.tail);
      uids.insert(uids.end(), more.begin(), more.end());
    }
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    b.unseen = uids.size();
    if (uids.size() > max)
      uids.resize(max);
    if (!uids.empty()) {
      // One command for all of them (one round trip); each answer names its UID.
      std::string set;
      for (auto uid : uids)
        set += (set.empty() ? "" : ",") + std::to_string(uid);
      auto fr = s.command("UID FETCH " + set + " (BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.65536>)");
      if (auto f = refused(fr, "UID FETCH"))
        return fail(*f);
      std::map<std::uint32_t, imap_message> by_uid;
      for (auto& u : std::get<answer>(fr).data) {
        if (u.pieces.empty())
          continue;
        std::uint32_t uid = 0;
        std::string headers, body;
        bool found = false;
        for (auto& [before, literal] : u.pieces) {
          if (auto at = before.find("UID "); at != std::string::npos && uid == 0)
            uid = static_cast<std::uint32_t>(std::strtoul(before.c_str() + at + 4, nullptr, 10));
          if (before.find("BODY[HEADER]") != std::string::npos)
            headers = literal, found = true;
          else if (before.find("BODY[TEXT]") != std::string::npos)
            body = literal;
        }
        if (!found || uid == 0 || !std::binary_search(uids.begin(), uids.end(), uid))
          continue; // not one asked for (an unsolicited FETCH of flags, say)
        auto m = parse_message(headers, body);
        m.uid = uid;
        by_uid[uid] = std::move(m);
      }
      for (auto& [uid, m] : by_uid) // UID order; one expunged meanwhile is simply absent
        b.messages.push_back(std::move(m));
    }
    s.command("LOGOUT");
    b.ok = true;
    done(std::move(b));
  });
}

void imap_client::mark_seen(std::uint64_t uidvalidity, std::vector<std::uint32_t> uids,
                            std::function<void(imap_result)> done) {
  if (dry_run()) {
    done({false, "imap_dry_run", dry_run_reason()});
    return;
  }
  d_->submit([d = d_.get(), uidvalidity, uids = std::move(uids), done = std::move(done)](bool stopping) {
    if (stopping)
      return done({false, "imap_stopping", "the node is stopping"});
    if (uids.empty())
      return done({true, {}, {}});
    session s{d->opts};
    if (auto f = s.open())
      return done({false, f->code, f->message});
    auto v = select(s, d->opts, false);
    if (auto* f = std::get_if<failure>(&v))
      return done({false, f->code, f->message});
    if (std::get<std::uint64_t>(v) != uidvalidity)
      return done({false, "imap_uidvalidity_changed",
                   "the mailbox's UIDVALIDITY changed since it was read; nothing was marked seen"});
    std::string set;
    for (auto uid : uids)
      set += (set.empty() ? "" : ",") + std::to_string(uid);
    auto r = s.command("UID STORE " + set + " +FLAGS.SILENT (\\Seen)");
    if (auto f = refused(r, "UID STORE +FLAGS (\\Seen)"))
      return done({false, f->code, f->message});
    s.command("LOGOUT");
    done({true, {}, {}});
  });
}

} // namespace echopilot::connectors
