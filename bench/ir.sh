#!/bin/sh
# Instructions per call by callgrind (issue 15): for each client, a run of N
# calls minus a run of 0 (both make the one warm-up call and the setup),
# divided by N. Prints "name instructions" lines; keeps the profiles in OUT.
#   sh bench/ir.sh URL OUT [N]     (run from the checkout, with the build's LUA_PATH/LUA_CPATH)
set -e
URL=$1; OUT=$2; N=${3:-300}; S=${SIGN_N:-2000}
REF=${REF:-$OUT/ref_client}
[ -x "$REF" ] || gcc -O2 -o "$REF" bench/ref_client.c -lcurl -ljansson -lcrypto
ir() { grep -E '^(summary|totals):' "$1" | head -n 1 | awk '{print $2}'; }
cg() { # name n command...: the profile OUT/cg_<name>_<n>
    f="$OUT/cg_$1_$2"; shift 2
    valgrind --tool=callgrind --callgrind-out-file="$f" "$@" >/dev/null 2>&1
}
per() { # name n0 n cmd-with-@N@
    name=$1; k0=$2; k=$3; shift 3
    a=$(echo "$@" | sed "s/@N@/$k0/g"); b=$(echo "$@" | sed "s/@N@/$k/g")
    cg "$name" "$k0" $a; cg "$name" "$k" $b
    echo "$name $(( ($(ir "$OUT/cg_${name}_$k") - $(ir "$OUT/cg_${name}_$k0")) / (k - k0) ))"
}
per soc_string 0 "$N" lua5.4 bench/client_socialize.lua "$URL" @N@ string
per soc_table 0 "$N" lua5.4 bench/client_socialize.lua "$URL" @N@ table
per ref_string 0 "$N" "$REF" "$URL/socialize.publishUserAction" @N@ string
per ref_table 0 "$N" "$REF" "$URL/socialize.publishUserAction" @N@ table
per soc_build 1 "$((S + 1))" lua5.4 bench/sign_socialize.lua @N@ build
per ref_build 1 "$((S + 1))" "$REF" --sign @N@
per soc_sign 1 "$((S + 1))" lua5.4 bench/sign_socialize.lua @N@ sign
per ref_sign 1 "$((S + 1))" "$REF" --sigonly @N@
