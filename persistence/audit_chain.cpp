#include "persistence/audit_chain.hpp"

#include <lmdb.h>

#include "base/crypto.hpp"
#include "persistence/environment_impl.hpp"

namespace persistence {

namespace {

std::string compact(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool optional_string(const nlohmann::json& p, const char* key) {
  return !p.contains(key) || p.at(key).is_string();
}

} // namespace

std::string audit_canonical(const nlohmann::json& entry) {
  if (!entry.is_object() || !entry.contains("hash"))
    return compact(entry); // nlohmann's objects keep their keys sorted
  auto copy = entry;
  copy.erase("hash");
  return compact(copy);
}

std::string audit_hash(const nlohmann::json& entry) {
  return base::sha256_hex(audit_canonical(entry));
}

std::string audit_payload_problem(const nlohmann::json& p) {
  if (!p.is_object())
    return "an audit entry must be a JSON object";
  for (auto& [key, value] : p.items()) {
    (void)value;
    if (key != "event_type" && key != "user" && key != "action" && key != "resource" && key != "details")
      return "an audit entry has no field \"" + key + "\" (seq, ts and the hashes are the writer's)";
  }
  if (!p.contains("event_type") || !p.at("event_type").is_string() || p.at("event_type").get_ref<const std::string&>().empty()
      || p.at("event_type").get_ref<const std::string&>().size() > 64)
    return "an audit entry needs an \"event_type\" of 1 to 64 bytes";
  if (!p.contains("action") || !p.at("action").is_string() || p.at("action").get_ref<const std::string&>().empty())
    return "an audit entry needs a non-empty \"action\"";
  if (!optional_string(p, "user") || !optional_string(p, "resource"))
    return "an audit entry's \"user\" and \"resource\" are strings";
  if (p.contains("details") && !p.at("details").is_object())
    return "an audit entry's \"details\" is an object";
  return {};
}

bool audit_verifier::feed(std::uint64_t seq, std::string_view text) {
  if (broken_seq_ != 0)
    return false;
  ++checked_;
  auto broken = [&](std::string why) {
    broken_seq_ = seq;
    reason_ = std::move(why);
    return false;
  };
  auto entry = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (entry.is_discarded() || !entry.is_object())
    return broken("the entry is not a JSON object");
  if (!entry.contains("seq") || !entry.at("seq").is_number_unsigned()
      || entry.at("seq").get<std::uint64_t>() != seq)
    return broken("the entry is stored as seq " + std::to_string(seq) + " but does not say so (moved or edited)");
  if (seq != last_seq_ + 1)
    return broken(last_seq_ == 0 ? "the chain does not begin at seq 1 (entries before it are missing)"
                                 : "entries after seq " + std::to_string(last_seq_) + " are missing");
  if (!entry.contains("hash") || !entry.at("hash").is_string())
    return broken("the entry has no hash");
  if (!entry.contains("prev_hash") || !entry.at("prev_hash").is_string()
      || entry.at("prev_hash").get_ref<const std::string&>() != last_hash_)
    return broken(last_seq_ == 0 ? "prev_hash is not the genesis value"
                                 : "prev_hash is not the hash of entry " + std::to_string(last_seq_));
  auto stored = entry.at("hash").get<std::string>();
  if (!base::constant_time_equal(audit_hash(entry), stored))
    return broken("the hash does not match the entry's content (the entry was changed)");
  last_seq_ = seq;
  last_hash_ = std::move(stored);
  return true;
}

nlohmann::json audit_verifier::to_json() const {
  nlohmann::json first = nullptr;
  if (broken_seq_ != 0)
    first = {{"seq", broken_seq_}, {"reason", reason_}};
  return {{"ok", ok()}, {"checked", checked_}, {"first_broken", first}};
}

caf::expected<nlohmann::json> verify_audit_chain(const environment& env) {
  audit_verifier v;
  std::uint64_t from = 0;
  for (;;) {
    auto page = env.read_stream(audit_stream, from, 1000);
    if (!page)
      return page.error();
    for (auto& e : *page)
      if (!v.feed(e.seq, e.json))
        return v.to_json();
    if (page->size() < 1000)
      break;
    from = page->back().seq + 1;
  }
  return v.to_json();
}

// Defined here rather than in environment.cpp: the chain's one use of it.
int environment::last_event_in(MDB_txn* txn, const std::string& stream, std::uint64_t& seq,
                               std::string& out) {
  auto& d = *d_;
  MDB_val hk = detail::val(stream);
  MDB_val hv;
  int rc = mdb_get(txn, d.heads, &hk, &hv);
  if (rc != 0)
    return rc;
  seq = detail::from_be64(detail::view(hv));
  auto key = detail::stream_key(stream, seq);
  MDB_val k = detail::val(key);
  MDB_val v;
  rc = mdb_get(txn, d.streams, &k, &v);
  if (rc != 0)
    return rc;
  out.assign(detail::view(v));
  return 0;
}

int append_audit(environment& env, MDB_txn* txn, const nlohmann::json& payload, const std::string& ts,
                 std::uint64_t& seq) {
  std::uint64_t last = 0;
  std::string last_text;
  std::string prev = audit_genesis;
  int rc = env.last_event_in(txn, audit_stream, last, last_text);
  if (rc == 0) {
    auto j = nlohmann::json::parse(last_text, nullptr, false);
    // An unreadable last entry (edited on disk): linked to its raw text's
    // hash; verify reports that entry as broken anyway.
    prev = j.is_object() && j.contains("hash") && j.at("hash").is_string()
             ? j.at("hash").get<std::string>()
             : base::sha256_hex(last_text);
  } else if (rc != MDB_NOTFOUND) {
    return rc;
  } else {
    last = 0;
  }
  auto entry = payload;
  entry["seq"] = last + 1;
  entry["ts"] = ts;
  entry["prev_hash"] = prev;
  entry["hash"] = audit_hash(entry);
  // The store puts seq and ts first itself.
  entry.erase("seq");
  entry.erase("ts");
  rc = env.append(txn, audit_stream, compact(entry), ts, seq);
  if (rc == 0 && seq != last + 1)
    return MDB_CORRUPTED; // the head and the last entry disagree
  return rc;
}

} // namespace persistence
