#!/bin/sh
# A state file: read where it is ($SPOOL_PATH), every time a script rewrites it.
level=$(cat)
if [ "${level:-100}" -lt 15 ] 2>/dev/null; then
    echo "battery: low ($level%)"
else
    echo "battery: $level%"
fi
