#!/usr/bin/env bash
# The dependency rule (ARCHITECTURE.md, "Layers"): a module may use only modules of a lower
# layer. Reads every `crate::<module>` (and, in a top-level module's own file, `super::<module>`)
# outside comments under src/, and fails naming each upward or sideways import.
#
#   scripts/check-layers.sh            (run by .ci/run before the build)
set -euo pipefail
cd "$(dirname "$0")/.."

# Lowest first. Modules of one layer do not use each other either.
declare -A LAYER=(
    [clock]=0 [ids]=0
    [settings]=1 [metrics]=1
    [store]=2
    [search]=3 [upstream]=3
    [engine]=4
    [sched]=5
    [api]=6
    [http]=7
    [app]=8
    [cli]=9
)

status=0
for top in "${!LAYER[@]}"; do
    files=()
    [ -f "src/$top.rs" ] && files+=("src/$top.rs")
    [ -d "src/$top" ] && while IFS= read -r f; do files+=("$f"); done < <(find "src/$top" -name '*.rs')
    for file in "${files[@]}"; do
        # `super::` leaves the top-level module only from its own root file.
        pattern='crate::[a-z_]+'
        case "$file" in "src/$top.rs" | "src/$top/mod.rs") pattern='(crate|super)::[a-z_]+' ;; esac
        while IFS=: read -r line used; do
            used=${used#*::}
            [ "$used" = "$top" ] && continue
            layer=${LAYER[$used]:-}
            [ -z "$layer" ] && continue
            if [ "$layer" -ge "${LAYER[$top]}" ]; then
                echo "$file:$line: $top (layer ${LAYER[$top]}) uses $used (layer $layer): a module may use only lower layers" >&2
                status=1
            fi
        done < <(grep -nv '^\s*//' "$file" | grep -oE "^[0-9]+:|$pattern" | awk '/^[0-9]+:$/ {n=$0; next} {print n $0}')
    done
done
[ "$status" -eq 0 ] && echo "check-layers: every import points down"
exit "$status"
