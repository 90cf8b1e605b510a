#!/bin/sh
# Regenerate the reference renders in docs/img/ (what the renderer draws, for a reader).
#   sh docs/render_references.sh        (after `sh dev.sh setup`; about a minute on 2 cores)
# Times are UTC; the site is the reference hall, La Coupole at Wizernes (50.707 N, 2.240 E).
set -eu
cd "$(dirname "$0")/.."
D=".venv/bin/domectl"
OUT="docs/img"
mkdir -p "$OUT"

# Tonight over Wizernes, as the eye sees it, with the chart marks a presenter turns on.
$D render --time 2026-11-20T21:00:00Z --size 1536 --lang fr \
    --layers default,constellation-lines,constellation-names,cardinals,horizon --pointer saturn \
    --out "$OUT/tonight_wizernes.png"
# A daylight sky: the Sun high in the south at midday in June; only the Sun, and no stars.
$D render --time 2027-06-21T11:45:00Z --size 1024 --layers default,cardinals --lang en \
    --out "$OUT/daylight.png"
# A sunset with twilight: the dome turned to face the west-southwest, the Sun just set.
$D render --time 2026-11-20T16:05:00Z --size 1024 --view 235,0 --layers default,cardinals,planets --lang fr \
    --out "$OUT/sunset_twilight.png"
# Orion close up, labelled in French: lines, boundaries, constellation and star names, the grid.
$D render --time 2027-01-15T21:00:00Z --size 6144 --view 180,0 --rect 0.34,0.10,0.66,0.34 --lang fr \
    --layers stars,planets,milky-way,constellation-lines,constellation-boundaries,constellation-names,star-names,grid-equatorial \
    --out "$OUT/orion_fr.png"
