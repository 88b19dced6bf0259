#!/bin/sh
# Cache misses and mispredicted branches per call (issue 15, target 1):
# callgrind with its cache and branch simulation, for each client a run of N
# calls minus a run of 0, divided by N (as bench/ir.sh). Prints one line per
# client: instructions, D1 read/write misses, I1 misses, conditional and
# indirect branches mispredicted. Keeps the profiles in OUT.
#   sh bench/misses.sh URL OUT [N]   (from the checkout, with the build's LUA_PATH/LUA_CPATH)
set -e
URL=$1; OUT=$2; N=${3:-300}
REF=${REF:-$OUT/ref_client}
[ -x "$REF" ] || gcc -O2 -o "$REF" bench/ref_client.c -lcurl -ljansson -lcrypto
cg() { # name n command...
    f="$OUT/cs_$1_$2"; shift 2
    valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes --callgrind-out-file="$f" "$@" >/dev/null 2>&1
}
tot() { grep -E '^(summary|totals):' "$1" | head -n 1 | cut -d' ' -f2-; }
for m in string table; do
    for n in 0 "$N"; do
        cg "soc_$m" "$n" lua5.4 bench/client_socialize.lua "$URL" "$n" "$m"
        cg "ref_$m" "$n" "$REF" "$URL/socialize.publishUserAction" "$n" "$m"
    done
done
ev=$(grep -m 1 '^events:' "$OUT/cs_soc_string_0" | cut -d' ' -f2-)
for k in soc_string ref_string soc_table ref_table; do
    echo "$k $(tot "$OUT/cs_${k}_0")" "| $(tot "$OUT/cs_${k}_$N")" | awk -v n="$N" -v ev="$ev" '
        { split(ev, e, " "); split($0, h, "|"); na = split(h[1], a, " "); split(h[2], b, " ");
          for (i = 2; i <= na; i++) v[e[i - 1]] = (b[i - 1] - a[i]) / n;
          printf "%s Ir=%d D1mr=%d D1mw=%d I1mr=%d Bcm=%d Bim=%d\n", a[1], v["Ir"], v["D1mr"], v["D1mw"], v["I1mr"], v["Bcm"], v["Bim"] }'
done
