// The portal actor ("portal", protocol/portal.hpp): owns the audio uploads
// under <data_dir>/uploads (a data file and a small JSON description each,
// so a restart finds them again), hands a complete one to the model
// connector's transcription, submits the transcript as a job, and records
// the portal's events.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/health/ports.hpp"
#include "base/clock.hpp"
#include "connectors/openai.hpp"
#include "supervision/directory.hpp"

namespace echopilot::portal {

/// Transcribes the file at `path` (called `filename`) with `model`; `done`
/// runs once, on any thread (chat_result::content holds the transcript).
using transcribe_fn = std::function<void(const std::string& path, const std::string& filename,
                                         const std::string& model, std::function<void(connectors::chat_result)> done)>;

struct portal_config {
  base::clock* clock = nullptr;
  std::shared_ptr<supervision::directory> dir;
  /// Uploads go to <data_dir>/uploads.
  std::string data_dir = ".";
  std::shared_ptr<health::events_port> events;
  /// Empty, or an empty model: audio is refused (transcription_unavailable).
  transcribe_fn transcribe;
  std::string transcription_model;
  /// Uploads untouched this long are removed, checked every sweep_every.
  std::chrono::milliseconds abandon_after{24 * 3600 * 1000};
  std::chrono::milliseconds sweep_every{3600 * 1000};
  /// Deadline of the job submission to the queue.
  std::chrono::milliseconds ask_timeout{5000};
};

/// Whether (filename, content_type) is audio the portal takes: the
/// extension and the content type must both be one of the audio kinds.
bool audio_allowed(const std::string& filename, const std::string& content_type);

caf::behavior portal_actor(caf::event_based_actor* self, portal_config cfg);

} // namespace echopilot::portal
