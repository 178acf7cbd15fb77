#!/usr/bin/env python3
"""A worker in Python: the SHA-256 of each message's body.

A file message's DATA is the path of the claimed file; a FIFO or socket message's DATA is the
line itself. For a socket message the digest goes back to the client (`reply` rules); for the
others it is written to stderr, which the daemon logs as an `out` line of the message.
"""
import hashlib
import sys
from urllib.parse import unquote_to_bytes


def field(value):
    """The bytes a NAME or DATA field stands for; None for `-` (unknown)."""
    return None if value == "-" else unquote_to_bytes(value)


def answer(request):
    _id, event, name, data, _pid, _uid, _gid = request.split(" ")
    body = field(data) or b""
    if event == "file":
        with open(body, "rb") as claimed:
            body = claimed.read()
    digest = hashlib.sha256(body).hexdigest()
    if event == "socket":
        reply = (digest + "\n").encode()
        return b"reply %d\n" % len(reply) + reply
    print("sha256", digest, field(name).decode("utf-8", "backslashreplace"), file=sys.stderr, flush=True)
    return b"ok\n"


def main():
    out = sys.stdout.buffer
    # Requests are ASCII by construction: every other byte is %XX.
    for line in sys.stdin.buffer:
        try:
            out.write(answer(line.decode("ascii").rstrip("\n")))
        except OSError as error:
            out.write(b"fail " + str(error).replace("\n", " ").encode("utf-8", "replace") + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
