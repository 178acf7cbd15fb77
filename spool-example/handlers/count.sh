#!/bin/sh
# A socket message that came with a descriptor: stdin is that descriptor ($SPOOL_FD_TYPE says
# what it is), the line is $SPOOL_MESSAGE.
echo "$SPOOL_MESSAGE: $(wc -c) bytes from a ${SPOOL_FD_TYPE:-line}"
