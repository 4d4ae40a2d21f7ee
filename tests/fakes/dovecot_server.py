#!/usr/bin/env python3
"""A real dovecot (Debian's dovecot-imapd) for the support inbox tests (S20).

  dovecot_server.py start DIR [--pass PASSWORD]   prints "port=N user=U pass=P maildir=M"
  dovecot_server.py stop DIR                      stops it by the PID in DIR/base/master.pid
  dovecot_server.py drop DIR FILE...              copies RFC 5322 files into Maildir/new

Everything lives in DIR: the config, base_dir, state_dir, the passwd-file, the
maildir (owned by nobody, since the mail user must not be root). Plain login
without TLS on 127.0.0.1 only: a loopback test server, never a real one
(../shared/design/TEST-SERVERS.md). Not finding dovecot is an error (exit 2):
the tests fail, they do not skip.
"""
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import time

USER = "support"
DOVECOT = "/usr/sbin/dovecot"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_by_nobody(path):
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files:
            os.chown(os.path.join(root, f), uid, gid)


def start(d, password):
    if not os.path.exists(DOVECOT):
        print("dovecot not found at %s: install dovecot-imapd (scripts/setup --test)" % DOVECOT, file=sys.stderr)
        sys.exit(2)
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    # Every parent must be readable by nobody and dovenull.
    p = d
    while p not in ("/", ""):
        try:
            os.chmod(p, os.stat(p).st_mode | 0o055)
        except PermissionError:
            pass
        p = os.path.dirname(p)
    home = os.path.join(d, "home")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(home, "Maildir", sub), exist_ok=True)
    own_by_nobody(home)
    base = os.path.join(d, "base")
    state = os.path.join(d, "state")
    os.makedirs(base, exist_ok=True)
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("%s:{PLAIN}%s::::::\n" % (USER, password))
    port = free_port()
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("""protocols = imap
listen = 127.0.0.1
base_dir = {base}
state_dir = {state}
instance_name = echopilot-test-{port}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
log_path = {d}/dovecot.log
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={home}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""".format(base=base, state=state, d=d, home=home, port=port))
    # The daemon must not keep this script's stdout: a caller reading it to
    # the end would wait for dovecot to exit.
    r = subprocess.run([DOVECOT, "-c", conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL).returncode
    if r != 0:
        print("dovecot failed to start (exit %d); see %s/dovecot.log" % (r, d), file=sys.stderr)
        sys.exit(1)
    until = time.time() + 10
    while time.time() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    print("port=%d user=%s pass=%s maildir=%s" % (port, USER, password,
                                                                 os.path.join(home, "Maildir")))
                    return
        except OSError:
            time.sleep(0.05)
    print("dovecot did not answer on port %d" % port, file=sys.stderr)
    stop(d)
    sys.exit(1)


def stop(d):
    pidfile = os.path.join(os.path.abspath(d), "base", "master.pid")
    try:
        pid = int(open(pidfile).read().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    until = time.time() + 10
    while time.time() < until:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def drop(d, files):
    new = os.path.join(os.path.abspath(d), "home", "Maildir", "new")
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    for i, src in enumerate(files):
        dst = os.path.join(new, "%d.%d_%d.echopilot-test" % (int(time.time()), os.getpid(), i))
        shutil.copyfile(src, dst)
        os.chown(dst, uid, gid)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "start":
        password = "test-pass"
        if len(sys.argv) >= 5 and sys.argv[3] == "--pass":
            password = sys.argv[4]
        start(d, password)
    elif cmd == "stop":
        stop(d)
    elif cmd == "drop":
        drop(d, sys.argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(64)


if __name__ == "__main__":
    main()
