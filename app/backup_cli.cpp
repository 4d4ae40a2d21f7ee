#include "app/backup_cli.hpp"

#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "actors/backup/backup_set.hpp"
#include "actors/backup/files.hpp"
#include "app/remote.hpp"
#include "app/store_backup.hpp"
#include "base/clock.hpp"
#include "persistence/backup.hpp"

namespace echopilot::app {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool terminal(std::FILE* f) {
  return ::isatty(::fileno(f)) == 1;
}

std::string dump(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

/// "flags 3, jobs 120, ..." of a records object, tables with records first.
std::string records_text(const json& records) {
  if (!records.is_object() || records.empty())
    return "-";
  std::string out;
  std::size_t empty = 0;
  for (auto& [table, n] : records.items()) {
    if (n == 0) {
      ++empty;
      continue;
    }
    out += (out.empty() ? "" : ", ") + printable(table) + " " + text_of(n);
  }
  if (empty > 0)
    out += (out.empty() ? "" : "; ") + std::to_string(empty) + " empty table" + (empty == 1 ? "" : "s");
  return out;
}

void print_set(const json& d, std::FILE* out) {
  auto m = d.value("manifest", json::object());
  if (!m.is_object())
    m = json::object();
  std::fprintf(out, "file      %s\n", field(d, "file").c_str());
  std::fprintf(out, "created   %s  (node %s, region %s)\n", field(m, "created_at").c_str(), field(m, "node").c_str(),
               field(m, "region").c_str());
  std::fprintf(out, "size      %s bytes compressed, %s bytes of store\n", field(d, "size").c_str(),
               field(m, "store_bytes").c_str());
  std::fprintf(out, "sha256    %s\n", field(d, "sha256").c_str());
  std::fprintf(out, "records   %s\n", records_text(d.contains("records") ? d["records"] : m.value("records", json{})).c_str());
}

int remote_failure(const char* what, const remote_result& r, std::FILE* err) {
  std::fprintf(err, "echopilot: backup %s: %s\n", what, printable(r.error).c_str());
  return r.status == 0 ? 3 : 1;
}

int run_remote(const backup_command& cmd, const remote_target& target, std::FILE* out, std::FILE* err) {
  bool human = !cmd.json;
  if (cmd.action == "run") {
    auto t = target;
    t.timeout_ms = 3'600'000;
    if (human && terminal(out))
      std::fprintf(out, "making a backup on %s ...\n", cmd.url.c_str());
    std::fflush(out);
    auto r = remote_call(t, "POST", "/api/backup/run", json::object());
    if (r.ok && (!r.data.is_object() || !r.data.contains("file") || !r.data.contains("sha256"))) {
      r.ok = false;
      r.error = "the answer of " + cmd.url + " is not a backup (no file and sha256)";
    }
    if (!r.ok)
      return remote_failure("run", r, err);
    if (!human) {
      std::fprintf(out, "%s\n", dump(r.data).c_str());
      return 0;
    }
    print_set(r.data, out);
    auto m = r.data.value("manifest", json::object());
    std::fprintf(out, "took      %s ms\n", field(m, "duration_ms").c_str());
    auto removed = r.data.value("removed", json::array());
    std::string names;
    for (auto& n : removed)
      names += (names.empty() ? "" : ", ") + text_of(n);
    std::fprintf(out, "removed   %s\n", names.empty() ? "nothing (retention)" : names.c_str());
    return 0;
  }
  if (cmd.action == "list") {
    auto r = remote_call(target, "GET", "/api/backup/list");
    if (r.ok && (!r.data.is_object() || !r.data.contains("backups") || !r.data["backups"].is_array())) {
      r.ok = false;
      r.error = "the answer of " + cmd.url + " is not a backup list (no backups)";
    }
    if (!r.ok)
      return remote_failure("list", r, err);
    if (!human) {
      std::fprintf(out, "%s\n", dump(r.data).c_str());
      return 0;
    }
    auto& sets = r.data["backups"];
    std::fprintf(out, "backup dir %s  (keep %s daily, %s weekly)%s\n", field(r.data, "dir").c_str(),
                 field(r.data, "keep_daily").c_str(), field(r.data, "keep_weekly").c_str(),
                 r.data.value("running", false) ? "  a backup is running" : "");
    if (sets.empty()) {
      std::fprintf(out, "no backups yet\n");
      return 0;
    }
    std::fprintf(out, "%-38s %-20s %12s %12s  %s\n", "FILE", "CREATED", "SIZE", "STORE", "SHA256");
    for (auto& s : sets) {
      auto sha = field(s, "sha256");
      std::fprintf(out, "%-38s %-20s %12s %12s  %s\n", field(s, "file").c_str(), field(s, "created_at").c_str(),
                   field(s, "size").c_str(), field(s, "store_bytes").c_str(),
                   s.contains("error") ? field(s, "error").c_str() : sha.substr(0, 16).c_str());
    }
    return 0;
  }
  auto t = target;
  t.timeout_ms = 3'600'000;
  if (human && terminal(out))
    std::fprintf(out, "verifying %s on %s ...\n", cmd.file.c_str(), cmd.url.c_str());
  std::fflush(out);
  auto r = remote_call(t, "POST", "/api/backup/verify", json{{"file", cmd.file}});
  if (!r.ok)
    return remote_failure("verify", r, err);
  if (!human) {
    std::fprintf(out, "%s\n", dump(r.data).c_str());
    return 0;
  }
  print_set(r.data, out);
  std::fprintf(out, "verified  yes: the SHA-256 matches its manifest, every page and entry of the copy reads\n");
  return 0;
}

/// Whether `data_dir` is held by a live node (its LOCK is flocked).
bool held_by_node(const std::string& data_dir) {
  auto lock = data_dir + "/LOCK";
  int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool held = flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

} // namespace

std::variant<command, usage_error> parse_backup(const std::vector<std::string>& args) {
  backup_command cmd;
  auto split = split_remote_args(args, cmd);
  if (auto* bad = std::get_if<usage_error>(&split))
    return *bad;
  auto& words = std::get<std::vector<std::string>>(split);
  if (!words.empty())
    cmd.action = words[0];
  if (cmd.action != "run" && cmd.action != "list" && cmd.action != "verify")
    return usage_error{"backup: unknown action '" + cmd.action + "' (run, list or verify FILE)"};
  if (cmd.action == "verify") {
    if (words.size() < 2 || words[1].empty())
      return usage_error{"backup verify: which file? (echopilot backup verify echopilot-YYYYMMDDTHHMMSSZ.tar.gz)"};
    if (words.size() > 2)
      return usage_error{"backup verify: one file only, not '" + words[2] + "' too"};
    cmd.file = words[1];
  } else if (words.size() > 1) {
    return usage_error{"backup " + cmd.action + ": unexpected '" + words[1] + "'"};
  }
  return command{cmd};
}

std::variant<command, usage_error> parse_restore(const std::vector<std::string>& args) {
  restore_command cmd;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) != 0) {
      if (!cmd.file.empty())
        return usage_error{"restore: one backup file only, not '" + args[i] + "' too"};
      cmd.file = args[i];
      continue;
    }
    auto o = split_option(args[i]);
    if (o.flag == "--data-dir") {
      if (auto err = take_value(args, i, o, "restore"))
        return *err;
      cmd.data_dir = o.value;
    } else if (o.flag == "--force" || o.flag == "--json") {
      if (o.inline_value)
        return usage_error{"restore: " + o.flag + " takes no value"};
      (o.flag == "--force" ? cmd.force : cmd.json) = true;
    } else {
      return usage_error{"restore: unknown option '" + o.flag + "'"};
    }
  }
  if (cmd.file.empty())
    return usage_error{"restore: which backup? (echopilot restore FILE --data-dir DIR)"};
  if (cmd.data_dir.empty())
    return usage_error{"restore: --data-dir DIR is required (where the store goes)"};
  return command{cmd};
}

std::string backup_help_text() {
  return "usage: echopilot backup [run | list | verify FILE] [--url URL] [--key-file FILE] [--json]\n"
         "\n"
         "Talks to a running node (default http://127.0.0.1:8080) with the key in\n"
         "DASHBOARD_KEY, or the first line of --key-file (such as data/dashboard.key).\n"
         "\n"
         "  run      (the default) makes a backup set in the node's backup dir while\n"
         "           it keeps serving: echopilot-YYYYMMDDTHHMMSSZ.tar.gz (the store's\n"
         "           hot copy, the config, the settings without secrets) and its\n"
         "           .manifest.json; prints file, size, SHA-256, records per table,\n"
         "           and the sets retention removed\n"
         "  list     the complete sets, newest first\n"
         "  verify FILE  the set's SHA-256 against its manifest, then its copy\n"
         "           unpacked and walked entry by entry\n"
         "  --json   print the node's answer (its data) as JSON instead\n"
         "\n"
         "Exit 0 on success; 1 with a one-line reason when the node refuses (a\n"
         "backup running: backup_running; a corrupt set: backup_corrupt); 3 when\n"
         "the node cannot be reached; 2 for a bad command line.\n";
}

std::string restore_help_text() {
  return "usage: echopilot restore FILE --data-dir DIR [--force] [--json]\n"
         "\n"
         "Offline: no node needed, and a data dir a running node holds is always\n"
         "refused (stop the node first). FILE is a backup set's .tar.gz; its\n"
         ".manifest.json must be beside it. Steps: the SHA-256 and size against\n"
         "the manifest; the archive unpacked into a temporary dir beside FILE; the\n"
         "copy verified (every page, every entry, records per table against the\n"
         "manifest); then the store put into DIR (a temporary file, fsync,\n"
         "rename). A DIR that holds a store is refused unless --force. On success\n"
         "DIR/RESTORED.json names the backup (the node's audit records it at its\n"
         "next start) and the records per table are printed.\n"
         "\n"
         "Exit 0 restored; 1 with a one-line reason when the set does not verify\n"
         "or the data dir cannot be used; 2 for a bad command line.\n";
}

int run_backup_command(const backup_command& cmd, const std::optional<std::string>& env_key, std::FILE* out,
                       std::FILE* err) {
  std::string why;
  auto key = resolve_key(cmd.key_file, env_key, why);
  if (!key) {
    std::fprintf(err, "echopilot: backup %s: %s\n", cmd.action.c_str(), why.c_str());
    return 1;
  }
  remote_target target{cmd.url, *key};
  return run_remote(cmd, target, out, err);
}

int run_restore_command(const restore_command& cmd, std::FILE* out, std::FILE* err) {
  auto fail = [err](const std::string& why) {
    std::fprintf(err, "echopilot: restore: %s\n", printable(why).c_str());
    return 1;
  };
  bool progress = !cmd.json && terminal(out);
  auto step = [&](const char* what) {
    if (progress) {
      std::fprintf(out, "%s\n", what);
      std::fflush(out);
    }
  };
  std::error_code ec;
  if (!fs::is_regular_file(cmd.file, ec))
    return fail(cmd.file + ": no such file");
  if (held_by_node(cmd.data_dir))
    return fail(cmd.data_dir + " is in use by a running node (its LOCK is held); stop the node first");
  auto path = fs::path{cmd.file};
  auto dir = path.parent_path().empty() ? std::string{"."} : path.parent_path().string();
  auto tables = backup_tables();
  step("checking the SHA-256 against the manifest, unpacking and verifying the copy ...");
  auto checked = backup::verify_set(
    dir, path.filename().string(), [&tables](const std::string& d) { return check_copy(d, tables); }, dir, true);
  if (!checked.error.empty())
    return fail(checked.error);
  auto root = checked.answer.value("unpacked_root", std::string{});
  auto cleanup = [&root] {
    std::error_code e;
    fs::remove_all(root, e);
  };
  step("putting the store into the data dir ...");
  auto problem = persistence::restore(checked.answer.value("unpacked", std::string{}), cmd.data_dir, cmd.force);
  cleanup();
  if (!problem.empty())
    return fail(problem);
  json marker = {{"backup", checked.answer.value("file", std::string{})},
                 {"sha256", checked.answer.value("sha256", std::string{})},
                 {"restored_at", base::to_iso8601(base::default_clock().now())}};
  if (auto e = backup::write_atomic(cmd.data_dir + "/RESTORED.json", marker.dump() + "\n"); !e.empty())
    return fail("the store is restored, but RESTORED.json could not be written: " + e);
  json answer = {{"restored", true},
                 {"data_dir", cmd.data_dir},
                 {"backup", marker["backup"]},
                 {"sha256", marker["sha256"]},
                 {"restored_at", marker["restored_at"]},
                 {"records", checked.answer.value("records", json::object())},
                 {"bytes", checked.answer.value("bytes", 0)},
                 {"created_at", checked.answer.value("manifest", json::object()).value("created_at", "")}};
  if (cmd.json) {
    std::fprintf(out, "%s\n", dump(answer).c_str());
    return 0;
  }
  std::fprintf(out, "restored  %s (made %s) into %s\n", field(answer, "backup").c_str(),
               field(answer, "created_at").c_str(), cmd.data_dir.c_str());
  std::fprintf(out, "sha256    %s\n", field(answer, "sha256").c_str());
  std::fprintf(out, "store     %s bytes\n", field(answer, "bytes").c_str());
  std::fprintf(out, "records   %s\n", records_text(answer["records"]).c_str());
  return 0;
}

} // namespace echopilot::app
