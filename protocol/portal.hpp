// The client portal's actor ("portal", under "ops"): audio uploads in
// chunks, their transcription, and the event stream "portal" (links issued
// and refused, referrals). Signed links themselves are pure functions
// (actors/portal/link.hpp) the gateway calls without a message.
//
// Gateway-facing messages (reply: JSON). The email always comes from a
// verified link, never from a body. A refusal the portal decides itself is
// answered as {"refused": {"status", "code", "message"}} (the route turns it
// into that status: 404, 409, 413, 415, 422, 502); other failures are
// errors of protocol/common.hpp.
//   (event_atom, json event) -> {"recorded": true}
//       appends {"kind", ...} to the stream "portal" (durable when answered).
//   (upload_atom, std::string email, json {"filename", "size", "content_type"})
//       -> {"upload_id", "size", "received": 0, "complete": false}
//       audio only (mp3, mp4, mpeg, mpga, m4a, wav, webm, ogg, flac by
//       extension and content type: else 415); size 1..max_upload_bytes
//       (else 413); at most max_open_uploads incomplete ones per email (409).
//   (chunk_atom, std::string email, std::string upload_id, std::uint64_t offset, std::string bytes)
//       -> {"upload_id", "size", "received", "complete"}
//       offset must equal the bytes received so far; a chunk that lies
//       wholly within them (a retry) changes nothing; a gap or an overlap
//       past them is 409; past the declared size 413. fsync once complete.
//   (transcribe_atom, std::string email, json {"upload_id", "title"?})
//       -> the jobs queue's {"job", "replayed"} for a job of task_type
//       transcription whose input is the transcript. No model or no
//       transcription model: 422 transcription_unavailable.
// Internal: (sweep_atom) every sweep_every removes uploads untouched for
// abandon_after; (transcribed_atom, id, ...) is the connector's answer.
#pragma once

#include <cstdint>

#include "protocol/common.hpp"

namespace echopilot::portal {

inline constexpr const char* actor_id = "portal";
inline constexpr const char* stream = "portal";
/// The largest audio file (50 MB) and chunk (1 MiB).
inline constexpr std::uint64_t max_upload_bytes = 50ull * 1000 * 1000;
inline constexpr std::uint64_t max_chunk_bytes = 1ull << 20;
/// Incomplete uploads one client may have at once (beyond: 409).
inline constexpr std::size_t max_open_uploads = 10;

using event_atom = caf::atom_constant<caf::atom("pevent")>;
using upload_atom = caf::atom_constant<caf::atom("upload")>;
using chunk_atom = caf::atom_constant<caf::atom("chunk")>;
using transcribe_atom = caf::atom_constant<caf::atom("transcr")>;
using transcribed_atom = caf::atom_constant<caf::atom("transcrd")>;
using sweep_atom = caf::atom_constant<caf::atom("psweep")>;

} // namespace echopilot::portal
