#!/bin/sh
# A worker in sh: for each request, appends the message's name, decoded to its bytes, and a
# newline to $NAMES_LOG (default names.log, in the rules file's folder), then answers ok.
#
# `read` splits the seven fields at single spaces (no field is ever empty: an unknown value is
# `-`). coreutils printf (`env printf`; dash's built-in printf lacks \x) turns the %XX escapes
# back into bytes; a backslash in a name is doubled first so %b reads it as itself.
decode() { env printf '%b' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/%\([0-9A-F][0-9A-F]\)/\\x\1/g')"; }

while IFS=' ' read -r id event name data peer_pid peer_uid peer_gid; do
    if { decode "$name"; echo; } >> "${NAMES_LOG:-names.log}"; then
        echo ok
    else
        echo "fail cannot write ${NAMES_LOG:-names.log}"
    fi
done
