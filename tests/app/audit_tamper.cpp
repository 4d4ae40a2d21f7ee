// -- audit (issue 17): a test tool, never shipped: opens a STOPPED node's data
// dir with LMDB directly and changes ONE byte of ONE stored audit entry, so
// that a test can show that verify names exactly that entry.
//
//   audit_tamper DATA_DIR SEQ
//
// The byte changed is the first letter of the entry's "action" value (a
// letter becomes the next one, z becomes a), so the entry is still valid
// JSON: only its hash can tell. Refuses (exit 1, one line) a data dir whose
// LOCK a running node holds, an entry that does not exist, or one without
// an "action" letter. Prints "seq N: byte O 'x' -> 'y'".
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <unistd.h>

namespace {

int fail(const std::string& why) {
  std::fprintf(stderr, "audit_tamper: %s\n", why.c_str());
  return 1;
}

std::string be64(unsigned long long x) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, x >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(x & 0xff);
  return s;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3)
    return fail("usage: audit_tamper DATA_DIR SEQ");
  std::string dir = argv[1];
  char* end = nullptr;
  auto seq = std::strtoull(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || seq == 0)
    return fail("SEQ must be a positive number");
  int lock = ::open((dir + "/LOCK").c_str(), O_RDWR);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0)
    return fail(dir + ": no LOCK file, or a running node holds it (stop the node first)");
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  int rc = mdb_env_create(&env);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(env, 1024);
  if (rc == 0)
    rc = mdb_env_open(env, dir.c_str(), 0, 0600);
  if (rc == 0)
    rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc == 0)
    rc = mdb_dbi_open(txn, "streams", 0, &dbi);
  if (rc != 0)
    return fail(dir + ": " + mdb_strerror(rc));
  std::string key = std::string{"audit"} + '\0' + be64(seq);
  MDB_val k{key.size(), key.data()};
  MDB_val v;
  rc = mdb_get(txn, dbi, &k, &v);
  if (rc != 0)
    return fail("no audit entry with seq " + std::string{argv[2]} + ": " + mdb_strerror(rc));
  std::string text(static_cast<const char*>(v.mv_data), v.mv_size);
  auto at = text.find("\"action\":\"");
  if (at == std::string::npos)
    return fail("the entry has no \"action\"");
  at += 10;
  char c = text[at];
  if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
    return fail("the entry's action does not begin with a letter");
  char to = c == 'z' ? 'a' : c == 'Z' ? 'A' : static_cast<char>(c + 1);
  text[at] = to;
  MDB_val nv{text.size(), text.data()};
  rc = mdb_put(txn, dbi, &k, &nv, 0);
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  if (rc != 0)
    return fail(std::string{"write: "} + mdb_strerror(rc));
  mdb_env_close(env);
  std::printf("seq %llu: byte %zu '%c' -> '%c'\n", seq, at, c, to);
  return 0;
}
