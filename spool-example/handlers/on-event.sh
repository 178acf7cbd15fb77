#!/bin/sh
# One line written into the events FIFO: the line is in $SPOOL_MESSAGE, and on stdin.
echo "event: $SPOOL_MESSAGE"
