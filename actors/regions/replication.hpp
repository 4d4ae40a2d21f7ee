// Replication's pure parts (S26): the events nodes exchange, the vector of
// what a node has applied per origin, and how a pulled batch is applied:
// in order per origin, each event once, a gap never skipped over. No CAF,
// no store: unit-tested on their own (tests/actors/regions_replication).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace echopilot::regions {

/// One replicated change, as it travels: made by node `origin` as its
/// `seq`-th replicated change, to record `key` of `table`, at `version`
/// (base/hlc.hpp; last writer wins), with `data` the record or null (a
/// delete).
struct event {
  std::string origin;
  std::uint64_t seq = 0;
  std::string table;
  std::string key;
  std::string version;
  nlohmann::json data;
};

nlohmann::json to_json(const event& e);
/// Reads an event; nothing (and `error` set) if a field is missing or of
/// the wrong type.
std::optional<event> event_from_json(const nlohmann::json& j, std::string& error);

/// Per origin node, the highest sequence applied: every event of that
/// origin up to it is applied, none after it.
using vector_clock = std::map<std::string, std::uint64_t>;

nlohmann::json to_json(const vector_clock& v);
/// Reads {"<origin>": seq, ...}; entries that are not non-negative integers
/// are an error.
std::optional<vector_clock> vector_from_json(const nlohmann::json& j, std::string& error);

/// What to do with a batch against what is applied.
struct plan {
  /// In order: the events to apply (each the next of its origin).
  std::vector<event> apply;
  /// Events already applied (sent twice: a retried pull, two peers).
  std::size_t duplicates = 0;
  /// Events past a missing one of their origin: not applied; the next pull
  /// asks again from the last applied.
  std::size_t gaps = 0;
  /// The vector once `apply` is applied.
  vector_clock next;
};

/// Plans `batch` (any order) against `applied`: sorted by origin and
/// sequence, each origin's events from applied+1 on are applied while they
/// follow each other; what is at or below the applied one is a duplicate;
/// what follows a missing sequence is a gap.
plan plan_batch(const vector_clock& applied, std::vector<event> batch);

/// Where an event from another node is kept: flags into the flags table
/// (the node serves them as its own), every other table into the copies of
/// the other regions' ledgers, under "<table>/<key>".
struct target {
  std::string table;
  std::string key;
};
target target_of(const event& e, const std::string& rows_table);

/// The key of an event of `origin` in the events table: origin, '/', and the
/// sequence as 20 zero-padded digits (so keys sort as sequences do).
std::string event_key(const std::string& origin, std::uint64_t seq);

/// Events a peer lacks, given its vector: per origin (in `origins`), the
/// range after what it applied up to what this node holds.
struct range {
  std::string origin;
  std::uint64_t after = 0; ///< the peer applied up to here
  std::uint64_t upto = 0;  ///< this node holds up to here
};
std::vector<range> missing(const vector_clock& theirs, const vector_clock& mine);

} // namespace echopilot::regions
