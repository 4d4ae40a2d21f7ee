#include "actors/portal/portal_actor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "base/crypto.hpp"
#include "protocol/jobs.hpp"
#include "protocol/portal.hpp"
#include "base/text.hpp"

namespace echopilot::portal {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct upload {
  std::string id;
  std::string email;
  std::string filename;
  std::string content_type;
  std::uint64_t size = 0;
  std::uint64_t received = 0;
  std::int64_t touched_ms = 0;
  bool complete = false;
  bool transcribing = false;
};

struct state {
  portal_config cfg;
  std::string dir;
  std::map<std::string, upload> uploads;
  std::uint64_t next_call = 0;
  std::map<std::uint64_t, std::pair<caf::response_promise, std::string>> calls;
};

json refused(int status, const std::string& code, const std::string& message) {
  return {{"refused", {{"status", status}, {"code", code}, {"message", message}}}};
}

json view(const upload& u) {
  return {{"upload_id", u.id}, {"size", u.size}, {"received", u.received}, {"complete", u.complete}};
}

std::string data_path(const state& st, const std::string& id) {
  return st.dir + "/" + id + ".bin";
}

std::string meta_path(const state& st, const std::string& id) {
  return st.dir + "/" + id + ".json";
}

/// Writes the description of `u` (the received count is the data file's).
bool save_meta(const state& st, const upload& u) {
  json m = {{"email", u.email},       {"filename", u.filename}, {"content_type", u.content_type},
            {"size", u.size},         {"complete", u.complete}, {"touched_ms", u.touched_ms}};
  auto tmp = meta_path(st, u.id) + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << m.dump();
    if (!out)
      return false;
  }
  std::error_code ec;
  fs::rename(tmp, meta_path(st, u.id), ec);
  return !ec;
}

void remove_upload(state& st, const std::string& id) {
  std::error_code ec;
  fs::remove(data_path(st, id), ec);
  fs::remove(meta_path(st, id), ec);
  st.uploads.erase(id);
}

/// Loads the uploads a previous incarnation left.
void load(state& st) {
  std::error_code ec;
  fs::create_directories(st.dir, ec);
  for (auto& entry : fs::directory_iterator{st.dir, ec}) {
    auto p = entry.path();
    if (p.extension() != ".json")
      continue;
    std::ifstream in{p};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    auto m = json::parse(text, nullptr, false);
    if (!m.is_object())
      continue;
    upload u;
    u.id = p.stem().string();
    u.email = m.value("email", "");
    u.filename = m.value("filename", "");
    u.content_type = m.value("content_type", "");
    u.size = m.value("size", std::uint64_t{0});
    u.complete = m.value("complete", false);
    u.touched_ms = m.value("touched_ms", std::int64_t{0});
    auto sz = fs::file_size(data_path(st, u.id), ec);
    u.received = ec ? 0 : std::min<std::uint64_t>(sz, u.size);
    st.uploads.emplace(u.id, std::move(u));
  }
}

/// Appends one chunk at `offset`; false on a failed write.
bool write_at(const std::string& path, std::uint64_t offset, const std::string& bytes, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return false;
  std::size_t done = 0;
  bool ok = true;
  while (done < bytes.size()) {
    auto n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (ok && sync)
    ok = ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  return ok;
}

} // namespace

bool audio_allowed(const std::string& filename, const std::string& content_type) {
  static const char* exts[] = {"mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm", "ogg", "flac"};
  static const char* types[] = {"audio/mpeg", "audio/mp3",  "audio/mp4",   "audio/mpga",  "audio/m4a",
                                "audio/x-m4a", "audio/wav", "audio/x-wav", "audio/wave",  "audio/webm",
                                "audio/ogg",  "audio/flac", "audio/x-flac", "video/mp4",  "video/webm",
                                "video/mpeg"};
  auto dot = filename.rfind('.');
  if (dot == std::string::npos)
    return false;
  auto ext = base::ascii_lower(filename.substr(dot + 1));
  auto type = base::ascii_lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ')
    type.pop_back();
  return std::find(std::begin(exts), std::end(exts), ext) != std::end(exts)
         && std::find(std::begin(types), std::end(types), type) != std::end(types);
}

caf::behavior portal_actor(caf::event_based_actor* self, portal_config cfg) {
  auto st = std::make_shared<state>();
  st->cfg = std::move(cfg);
  if (st->cfg.clock == nullptr)
    st->cfg.clock = &base::default_clock();
  st->dir = st->cfg.data_dir + "/uploads";
  load(*st);
  self->delayed_send(self, st->cfg.sweep_every, sweep_atom::value);
  auto owned = [st](const std::string& email, const std::string& id) -> upload* {
    auto i = st->uploads.find(id);
    return i == st->uploads.end() || i->second.email != email ? nullptr : &i->second;
  };
  return {
    [self, st](event_atom, json event) -> caf::result<json> {
      if (!st->cfg.events)
        return reply({{"recorded", false}});
      auto rp = self->make_response_promise<json>();
      st->cfg.events->append(self, stream, event, [rp](const caf::error& err) mutable {
        rp.deliver(json{{"recorded", !err}});
      });
      return rp;
    },
    [st](upload_atom, const std::string& email, const json& body) -> caf::result<json> {
      auto text = [&](const char* name) -> std::string {
        auto f = body.find(name);
        return f != body.end() && f->is_string() ? f->get<std::string>() : std::string{};
      };
      auto filename = text("filename");
      auto type = text("content_type");
      if (filename.empty() || filename.size() > 255)
        return reply(refused(400, "invalid_field", "the field 'filename' must be a name of 1 to 255 bytes"));
      if (type.empty())
        return reply(refused(400, "invalid_field", "the field 'content_type' must be a non-empty string"));
      auto size = body.find("size");
      if (size == body.end() || !size->is_number_unsigned() || size->get<std::uint64_t>() == 0)
        return reply(refused(400, "invalid_field", "the field 'size' must be a positive whole number of bytes"));
      if (size->get<std::uint64_t>() > max_upload_bytes)
        return reply(refused(413, "upload_too_large",
                             "an audio file may have at most " + std::to_string(max_upload_bytes) + " bytes"));
      if (!audio_allowed(filename, type))
        return reply(refused(415, "unsupported_media_type",
                             "only audio is taken: mp3, mp4, mpeg, mpga, m4a, wav, webm, ogg or flac, with "
                             "a matching audio content type"));
      std::size_t open = 0;
      for (auto& [other_id, other] : st->uploads)
        open += other.email == email && !other.complete;
      if (open >= max_open_uploads)
        return reply(refused(409, "too_many_uploads",
                             "finish or abandon an upload first: at most " + std::to_string(max_open_uploads)
                               + " may be open at once"));
      upload u;
      u.id = base::random_hex(16);
      u.email = email;
      u.filename = filename;
      u.content_type = type;
      u.size = size->get<std::uint64_t>();
      u.touched_ms = st->cfg.clock->now_ms();
      if (!save_meta(*st, u) || !write_at(data_path(*st, u.id), 0, {}, false))
        return make_error(errc::storage_failure, "the upload could not be created on disk");
      auto answer = view(u);
      st->uploads.emplace(u.id, std::move(u));
      return reply(std::move(answer));
    },
    [st, owned](chunk_atom, const std::string& email, const std::string& id, std::uint64_t offset,
                const std::string& bytes) -> caf::result<json> {
      auto* u = owned(email, id);
      if (u == nullptr)
        return reply(refused(404, "upload_not_found", "no upload '" + id.substr(0, 64) + "'"));
      if (bytes.empty())
        return reply(refused(400, "invalid_body", "a chunk must have at least one byte"));
      if (bytes.size() > max_chunk_bytes)
        return reply(refused(413, "chunk_too_large", "a chunk may have at most 1 MiB"));
      if (offset + bytes.size() <= u->received)
        return reply(view(*u)); // a retry of what is already here
      if (offset != u->received)
        return reply(refused(409, "offset_mismatch",
                             "the next chunk starts at offset " + std::to_string(u->received) + ", not "
                               + std::to_string(offset)));
      if (offset + bytes.size() > u->size)
        return reply(refused(413, "upload_too_large",
                             "the chunk ends past the declared size of " + std::to_string(u->size) + " bytes"));
      bool last = offset + bytes.size() == u->size;
      if (!write_at(data_path(*st, id), offset, bytes, last))
        return make_error(errc::storage_failure, "the chunk could not be written");
      u->received += bytes.size();
      u->touched_ms = st->cfg.clock->now_ms();
      if (last) {
        u->complete = true;
        save_meta(*st, *u);
      }
      return reply(view(*u));
    },
    [self, st, owned](transcribe_atom, const std::string& email, const json& body) -> caf::result<json> {
      auto id = body.value("upload_id", std::string{});
      if (!st->cfg.transcribe || st->cfg.transcription_model.empty())
        return reply(refused(422, "transcription_unavailable",
                             "no transcription model is configured (AI_INTEGRATIONS_OPENAI_API_KEY and "
                             "openai.transcription_model): the local processor cannot hear audio"));
      auto* u = owned(email, id);
      if (u == nullptr)
        return reply(refused(404, "upload_not_found", "no upload '" + id.substr(0, 64) + "'"));
      if (!u->complete)
        return reply(refused(409, "upload_incomplete",
                             "the upload has " + std::to_string(u->received) + " of " + std::to_string(u->size)
                               + " bytes"));
      if (u->transcribing)
        return reply(refused(409, "transcription_running", "this upload is being transcribed"));
      u->transcribing = true;
      auto rp = self->make_response_promise<json>();
      auto call = ++st->next_call;
      auto title = body.value("title", u->filename);
      st->calls.emplace(call, std::make_pair(rp, title));
      caf::actor me = caf::actor_cast<caf::actor>(self);
      st->cfg.transcribe(data_path(*st, id), u->filename, st->cfg.transcription_model,
                         [me, call, id](connectors::chat_result r) {
                           caf::anon_send(me, transcribed_atom::value, call, id, r.ok, r.content,
                                          r.error_code, r.error_message);
                         });
      return rp;
    },
    [self, st](transcribed_atom, std::uint64_t call, const std::string& id, bool ok, const std::string& text,
               const std::string& code, const std::string& message) {
      auto c = st->calls.find(call);
      if (c == st->calls.end())
        return;
      auto rp = c->second.first;
      auto title = c->second.second;
      st->calls.erase(c);
      auto u = st->uploads.find(id);
      if (u == st->uploads.end()) {
        rp.deliver(refused(404, "upload_not_found", "the upload was removed meanwhile"));
        return;
      }
      u->second.transcribing = false;
      if (!ok) {
        rp.deliver(refused(502, "transcription_failed",
                           "the transcription failed (" + code + "): " + message.substr(0, 300)));
        return;
      }
      if (text.empty()) {
        rp.deliver(refused(422, "empty_transcript", "the model heard no speech in the file"));
        return;
      }
      auto queue = st->cfg.dir ? st->cfg.dir->resolve(jobs::queue_id)
                               : caf::expected<caf::actor>{make_error(errc::unavailable, "no directory")};
      if (!queue) {
        rp.deliver(make_error(errc::unavailable, "the jobs queue is not running"));
        return;
      }
      json job = {{"email", u->second.email}, {"task_type", "transcription"}, {"input", text},
                  {"title", title.substr(0, 200)}};
      self->request(*queue, st->cfg.ask_timeout, jobs::submit_atom::value, job, std::string{})
        .then(
          [st, rp, id](json& answer) mutable {
            remove_upload(*st, id); // the transcript is in the job now
            rp.deliver(std::move(answer));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    },
    [self, st](sweep_atom) {
      auto now = st->cfg.clock->now_ms();
      std::vector<std::string> old;
      for (auto& [id, u] : st->uploads)
        if (!u.transcribing && now - u.touched_ms >= st->cfg.abandon_after.count())
          old.push_back(id);
      for (auto& id : old)
        remove_upload(*st, id);
      self->delayed_send(self, st->cfg.sweep_every, sweep_atom::value);
    },
  };
}

} // namespace echopilot::portal
