#include "app/export_cli.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "app/cli_support.hpp"
#include "app/node_probe.hpp"

namespace echopilot::app {

using nlohmann::json;

namespace {

constexpr std::size_t page_size = 10000; // the route's most a request

bool valid_stream(const std::string& s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

} // namespace

std::variant<command, usage_error> parse_export(const std::vector<std::string>& args) {
  export_command cmd;
  std::vector<own_option> own;
  auto split = split_own_args(args, {"--out", "--from"}, {}, own, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (words.empty())
    return usage_error{"export: the stream is missing (echopilot export STREAM [--out FILE])"};
  if (words.size() > 1)
    return usage_error{"export: one stream at a time, not '" + printable(words[0]) + " " + printable(words[1]) + "'"};
  if (!valid_stream(words[0]))
    return usage_error{"export: '" + printable(words[0].substr(0, 64))
                       + "' is not a stream name (1 to 64 of a-z A-Z 0-9 . _ -)"};
  cmd.stream = words[0];
  for (auto& o : own) {
    if (o.flag == "--out") {
      cmd.out = o.value;
    } else {
      auto n = whole_number(o.value, 0, (1LL << 62));
      if (!n)
        return usage_error{"export: --from must be an event sequence number (0 or more), not '" + printable(o.value)
                           + "'"};
      cmd.from = static_cast<std::uint64_t>(*n);
    }
  }
  if (cmd.json && !cmd.out)
    return usage_error{"export: --json prints a summary; give the events a file with --out FILE"};
  return command{cmd};
}

std::string export_help_text() {
  return "usage: echopilot export STREAM [--out FILE] [--from SEQ] [--url URL] [--key-file FILE] [--json]\n"
         "\n"
         "Writes the events of a running node's event stream (flags, jobs, access,\n"
         "alerts, scheduler, ...) as NDJSON, one JSON object a line with its seq and\n"
         "ts, oldest first, as they come (GET /api/events/STREAM, 10000 a request).\n"
         "\n"
         "  --out FILE  write to FILE (written as FILE.part, renamed when complete)\n"
         "              instead of stdout\n"
         "  --from SEQ  start at that sequence number (default: the first)\n"
         "  --json      print a summary (stream, events, bytes, last_seq, out) as\n"
         "              JSON; needs --out\n"
         "\n"
         "Progress (events, bytes) goes to stderr when stderr is a terminal.\n"
         "Exit 0 on success; 1 when the node refuses (an unknown stream) or the\n"
         "file cannot be written; 2 for a bad command line; 3 when the node\n"
         "cannot be reached.\n";
}

int run_export_command(const export_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                       std::FILE* err) {
  auto target = target_of(cmd, env_key, "export", err);
  if (!target)
    return exit_failed;
  std::FILE* sink = out;
  std::string part;
  if (cmd.out) {
    part = *cmd.out + ".part";
    sink = std::fopen(part.c_str(), "wb");
    if (sink == nullptr) {
      std::fprintf(err, "echopilot: export: cannot write %s: %s\n", part.c_str(), std::strerror(errno));
      return exit_failed;
    }
  }
  auto fail_file = [&](int status) {
    if (cmd.out) {
      std::fclose(sink);
      std::remove(part.c_str());
    }
    return status;
  };
  bool progress = !cmd.json && isatty(fileno(err)) != 0;
  std::uint64_t events = 0, bytes = 0, last_seq = 0;
  std::uint64_t from = cmd.from;
  std::string line; // a line not yet complete (its seq is read once it is)
  bool write_failed = false;
  for (;;) {
    std::uint64_t page_events = 0;
    auto sink_fn = [&](const char* data, std::size_t n) {
      if (std::fwrite(data, 1, n, sink) != n) {
        write_failed = true;
        return false;
      }
      bytes += n;
      for (std::size_t i = 0; i < n; ++i) {
        if (data[i] != '\n') {
          line.push_back(data[i]);
          continue;
        }
        ++page_events;
        ++events;
        auto ev = json::parse(line, nullptr, false);
        if (ev.is_object() && ev.value("seq", json{}).is_number_unsigned())
          last_seq = ev["seq"].get<std::uint64_t>();
        line.clear();
      }
      if (progress)
        std::fprintf(err, "\r%llu events, %llu bytes", static_cast<unsigned long long>(events),
                     static_cast<unsigned long long>(bytes));
      return true;
    };
    auto path = "/api/events/" + url_encode(cmd.stream) + "?from=" + std::to_string(from)
                + "&limit=" + std::to_string(page_size);
    auto r = probe_stream(cmd.url, path, {"Accept: application/x-ndjson", "X-Dash-Key: " + target->key}, sink_fn);
    if (progress && (r.status != 200 || page_events < page_size || write_failed))
      std::fputs("\n", err); // the progress line ends
    if (write_failed) {
      std::fprintf(err, "echopilot: export: cannot write %s: %s\n", cmd.out ? part.c_str() : "stdout",
                   std::strerror(errno));
      return fail_file(exit_failed);
    }
    if (r.status == 0) {
      std::fprintf(err, "echopilot: export: %s\n", printable(r.error).c_str());
      return fail_file(exit_unreachable);
    }
    if (r.status != 200) {
      auto doc = json::parse(r.body, nullptr, false);
      std::string why = "HTTP " + std::to_string(r.status);
      if (doc.is_object() && doc.value("error", json{}).is_object())
        why += " " + doc["error"].value("code", std::string{"error"}) + ": " + doc["error"].value("message", std::string{});
      std::fprintf(err, "echopilot: export %s: %s\n", cmd.stream.c_str(), printable(why).c_str());
      return fail_file(exit_failed);
    }
    if (!line.empty()) {
      std::fprintf(err, "echopilot: export %s: the node's answer ended inside a line\n", cmd.stream.c_str());
      return fail_file(exit_failed);
    }
    if (page_events < page_size)
      break;
    if (last_seq < from) {
      std::fprintf(err, "echopilot: export %s: the events carry no increasing seq; stopped\n", cmd.stream.c_str());
      return fail_file(exit_failed);
    }
    from = last_seq + 1;
  }
  if (cmd.out) {
    if (std::fflush(sink) != 0 || fsync(fileno(sink)) != 0 || std::fclose(sink) != 0) {
      std::fprintf(err, "echopilot: export: cannot write %s: %s\n", part.c_str(), std::strerror(errno));
      std::remove(part.c_str());
      return exit_failed;
    }
    if (std::rename(part.c_str(), cmd.out->c_str()) != 0) {
      std::fprintf(err, "echopilot: export: cannot rename %s to %s: %s\n", part.c_str(), cmd.out->c_str(),
                   std::strerror(errno));
      std::remove(part.c_str());
      return exit_failed;
    }
  } else {
    std::fflush(out);
  }
  if (cmd.json)
    print_json({{"stream", cmd.stream},
                {"events", events},
                {"bytes", bytes},
                {"last_seq", last_seq},
                {"out", cmd.out ? json(*cmd.out) : json{}}},
               out);
  else if (cmd.out)
    std::fprintf(out, "exported %llu events (%llu bytes) of %s to %s\n", static_cast<unsigned long long>(events),
                 static_cast<unsigned long long>(bytes), cmd.stream.c_str(), cmd.out->c_str());
  return exit_ok;
}

} // namespace echopilot::app
