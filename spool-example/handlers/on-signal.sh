#!/bin/sh
# A signal sent to the daemon: its name, who sent it, and a sigqueue value when there is one.
echo "signal $SPOOL_NAME from pid $SPOOL_PEER_PID (uid $SPOOL_PEER_UID)${SPOOL_SIGNAL_VALUE:+, value $SPOOL_SIGNAL_VALUE}"
