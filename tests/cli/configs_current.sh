#!/bin/sh
# The shipped configs are complete and current: each equals what `pamoe train --print-config`
# writes for it (every key of the key table, with its documentation line and the reference's
# value), apart from the file's own header comment. A key added to the table without
# regenerating configs/ fails here.
set -eu
B=$1
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
for c in configs/*.ini; do
    $B/pamoe train --config "$c" --print-config > "$D/printed.ini"
    # both without their leading comment block (the header)
    awk 'body || !/^#/ { body = 1; print }' "$D/printed.ini" > "$D/a"
    awk 'body || !/^#/ { body = 1; print }' "$c" > "$D/b"
    if ! cmp -s "$D/a" "$D/b"; then
        echo "$c differs from \`pamoe train --config $c --print-config\` (regenerate it, keep its header):"
        diff "$D/b" "$D/a" | head -20
        exit 1
    fi
done
echo ok
