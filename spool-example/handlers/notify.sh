#!/bin/sh
# Runs once per inbox/*.msg file. $1 is the message name; the body is on stdin.
# What a handler prints goes to the dispatch log as `out` lines.
body=$(cat)
printf 'notify: %s says "%s" (from uid %s, message %s)\n' "$1" "$body" "$SPOOL_PEER_UID" "$SPOOL_ID"
