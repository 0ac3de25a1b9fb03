#!/bin/sh
# The README's first command: install, build, and run the main job.
# For now the main job decodes a real BGP capture (a full IPv4 table learned over
# one iBGP session, RIPE RIS 2015) and prints a summary.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build.sh build
exec build/bin/routehubctl decode --summary tests/data/mrt/updates.et-header.2015.gz
