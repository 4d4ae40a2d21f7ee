// The model connector: OpenAI-compatible chat completions over libcurl's
// multi interface. One thread drives every transfer, so hundreds of calls
// are in flight without a thread each. Retries 408, 409, 429, 5xx and
// transport failures with exponential backoff, honouring Retry-After; maps
// the final failure to a clear error. The API key goes only into the
// Authorization header: it is never logged nor put in an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace echopilot::connectors {

struct chat_request {
  std::string model;
  /// (role, content) pairs in order.
  std::vector<std::pair<std::string, std::string>> messages;
  double temperature = 0.7;
  int max_tokens = 2000;
};

struct chat_result {
  bool ok = false;
  std::string content;
  /// The model that answered (as the API reports it).
  std::string model;
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  /// The last HTTP status (0: no response).
  long status = 0;
  /// On failure: model_rate_limited, model_unavailable, model_timeout,
  /// model_unreachable, model_auth_failed, model_rejected,
  /// model_bad_response; and a message a person can act on.
  std::string error_code;
  std::string error_message;
  /// Whether trying the job again later may succeed.
  bool retryable = false;
  /// HTTP attempts made.
  std::uint32_t tries = 0;
  std::int64_t duration_ms = 0;
};

struct openai_options {
  /// e.g. https://api.openai.com/v1 (".../chat/completions" is appended).
  std::string base_url = "https://api.openai.com/v1";
  std::string api_key;
  std::chrono::milliseconds timeout{60'000};
  std::chrono::milliseconds connect_timeout{10'000};
  /// Retries after the first try.
  std::uint32_t max_retries = 2;
  std::chrono::milliseconds retry_base{500};
  /// Longest wait before a retry (a longer Retry-After is capped here).
  std::chrono::milliseconds retry_max{30'000};
  /// Connections kept open to the API at most.
  long max_connections = 512;
  /// The model of POST /audio/transcriptions (openai.transcription_model;
  /// "" : the portal refuses audio, transcription_unavailable).
  std::string transcription_model = "whisper-1";
};

/// Counters of the connector (for /metrics and benchmarks).
struct chat_stats {
  std::uint64_t started = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t retries = 0;
  std::uint64_t in_flight = 0;
};

class openai_client {
public:
  /// Starts the connector's thread. Throws std::runtime_error if libcurl
  /// cannot be set up.
  explicit openai_client(openai_options opts);
  /// Stops the thread; calls still in flight complete with model_unavailable.
  ~openai_client();

  openai_client(const openai_client&) = delete;
  openai_client& operator=(const openai_client&) = delete;

  /// Starts a call; `done` runs once, on the connector's thread (keep it
  /// short: send a message).
  void chat(chat_request req, std::function<void(chat_result)> done);

  /// Starts a transcription of the audio file at `path` with `model`
  /// (POST <base>/audio/transcriptions, multipart; libcurl reads the file
  /// from disk as it sends it). `done` as for chat(): content holds the
  /// transcript.
  /// `filename`: the name the API is told (its extension names the format).
  void transcribe(std::string path, std::string filename, std::string model,
                  std::function<void(chat_result)> done);

  chat_stats stats() const;

  const openai_options& options() const noexcept;

  struct impl;

private:
  std::unique_ptr<impl> d_;
};

/// The request body of `req` (JSON text).
std::string chat_body(const chat_request& req);

/// Reads a chat-completions response: content, model, usage; on failure the
/// error code and message (status, the API's own error message).
chat_result parse_chat_response(long status, const std::string& body);

/// Reads a transcription response ({"text": ...}) into content; failures
/// as parse_chat_response.
chat_result parse_transcription_response(long status, const std::string& body);

/// Whether a status is worth retrying: 408, 409, 429, 5xx.
bool retryable_status(long status) noexcept;

/// The delay a Retry-After header asks for (seconds or an HTTP date), if it
/// parses; `now` is the current Unix time in seconds.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value, std::int64_t now);

} // namespace echopilot::connectors
