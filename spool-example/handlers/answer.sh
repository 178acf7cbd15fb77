#!/bin/sh
# One request line from a client of ask.sock. What this prints is the reply the client reads;
# who asked comes from the kernel (SO_PEERCRED), not from the client.
case "$SPOOL_MESSAGE" in
    ping) echo pong ;;
    time) date -u +%Y-%m-%dT%H:%M:%SZ ;;
    whoami) echo "pid $SPOOL_PEER_PID, uid $SPOOL_PEER_UID, gid $SPOOL_PEER_GID" ;;
    *) echo "unknown request '$SPOOL_MESSAGE'; try ping, time or whoami" ;;
esac
