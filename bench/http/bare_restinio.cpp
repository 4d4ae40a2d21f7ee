// The reference point of the HTTP benchmarks: RESTinio on a thread pool with
// no routing, answering every request with a fixed small JSON body.
// usage: bench-bare-restinio [--port N] [--threads N]
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <string>

#include <restinio/all.hpp>

int main(int argc, char** argv) {
  unsigned port = 8090;
  unsigned threads = 2;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--port" || a == "--threads") && i + 1 < argc) {
      auto v = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
      (a == "--port" ? port : threads) = v;
    } else {
      std::fprintf(stderr, "usage: bench-bare-restinio [--port N] [--threads N]\n");
      return 2;
    }
  }
  if (port == 0 || port > 65535 || threads == 0) {
    std::fprintf(stderr, "bench-bare-restinio: bad --port or --threads\n");
    return 2;
  }
  std::printf("bare RESTinio on http://127.0.0.1:%u with %u threads\n", port, threads);
  std::fflush(stdout);
  restinio::run(restinio::on_thread_pool(threads)
                  .port(static_cast<std::uint16_t>(port))
                  .address("127.0.0.1")
                  .request_handler([](auto req) {
                    return req->create_response()
                      .append_header(restinio::http_field::content_type, "application/json")
                      .set_body(R"({"ok":true})")
                      .done();
                  }));
}
