"""email (issue 16): an aiosmtpd Mailbox handler that scripts failures.

Run with Debian's python and this folder on PYTHONPATH:
  /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c fake_smtp_failing.FailingMailbox MAILDIR [TEMPFAILS]

- a recipient whose local part starts with "bounce" is refused at RCPT with
  "550 5.1.1 <addr>: mailbox unavailable" (a permanent failure);
- a message to a recipient whose local part starts with "tempfail" is
  answered "451 4.3.0 mailbox busy, try again later" at DATA for its first
  TEMPFAILS attempts (default 2), then accepted and stored;
- everything else is stored in the maildir as aiosmtpd's Mailbox does.
Every DATA answer is counted per recipient in MAILDIR/../attempts.log.
"""
import os

from aiosmtpd.handlers import Mailbox


class FailingMailbox(Mailbox):
    def __init__(self, mail_dir, tempfails=2):
        super().__init__(mail_dir)
        self.tempfails = int(tempfails)
        self.seen = {}
        self.log = os.path.join(os.path.dirname(os.path.abspath(mail_dir)), "attempts.log")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("bounce"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            if rcpt.split("@")[0].startswith("tempfail"):
                n = self.seen.get(rcpt, 0) + 1
                self.seen[rcpt] = n
                with open(self.log, "a") as f:
                    f.write("%s %d\n" % (rcpt, n))
                if n <= self.tempfails:
                    return "451 4.3.0 mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) < 1:
            parser.error("The directory for the maildir is required")
        return cls(args[0], *(args[1:2]))
