# eval_table.awk: checks `pamoe eval` summary rows against a table of reference means.
# usage: awk -v rows=N -f tests/cli/eval_table.awk TABLE EVAL_STDOUT
# TABLE lines: agent metric reference_mean our_seed0_mean ('#' comments allowed).
# Each row must be within 4 sqrt(2) SE of the reference (two independent 300-session means;
# SE = t95 half-width / t(0.975, 299)) and equal our own seed-0 mean to 4 decimals
# (regression). Called by eval_reference.sh and eval_ref_agents.sh, which explain the numbers.
BEGIN { t = 1.9679296690653618; bad = 0; n = 0 }
FNR == NR { if ($1 !~ /^#/ && NF == 4) { ref[$1, $2] = $3; gold[$1, $2] = $4 }; next }
(($1, $2) in ref) {
    se = $7 / t; tol = 4 * sqrt(2) * se; d = $3 - ref[$1, $2]; if (d < 0) d = -d
    printf "check %-9s %-15s ours %8.4f ref %8.4f |diff| %.4f tol %.4f (%.1f SE of a difference)\n", \
        $1, $2, $3, ref[$1, $2], d, tol, d / (sqrt(2) * se)
    if (d > tol) { print "FAIL: too far from the reference table"; bad = 1 }
    g = $3 - gold[$1, $2]; if (g < 0) g = -g
    if (g > 0.00005001) { printf "FAIL: regression: %s %s = %.4f, was %.4f\n", $1, $2, $3, gold[$1, $2]; bad = 1 }
    n++
}
END { if (n != rows) { print "FAIL: expected " rows " rows, got " n; bad = 1 }; exit bad }
