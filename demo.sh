#!/usr/bin/env bash
# A guided run of asana-bridge against the bundled Asana simulator: no Asana account or
# token needed. Builds both, starts the simulator with a small demo project, then shows a
# dry run, a first sync, an edit on each side, and the sync that mirrors them.
# Everything it writes stays in ./demo/ (delete it when done).
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --quiet -p asana-bridge -p asana-sim
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release"
rm -rf demo && mkdir demo

"$bin/asana-sim" --demo > demo/simulator.json 2> demo/simulator.log &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s demo/simulator.json ] && break; sleep 0.1; done
[ -s demo/simulator.json ] || { echo "the simulator did not start; see demo/simulator.log" >&2; exit 1; }
field() { python3 -c "import json,sys; print(json.load(open('demo/simulator.json'))['$1'])"; }
root=$(field root_url); project=$(field project)
export ASANA_BASE_URL=$(field base_url) ASANA_TOKEN=$(field token)

cd demo
bridge() { echo; echo "\$ asana-bridge $*"; "$bin/asana-bridge" "$@"; }
bridge init
sed -i "s/^asana_project = .*/asana_project = \"$project\"/" asana-bridge.toml

bridge sync --dry-run
bridge sync
echo; echo "\$ ls roadmap/"; ls roadmap/
echo; echo "\$ cat roadmap/fix-the-login-page.md"; cat roadmap/fix-the-login-page.md

echo; echo "# Edit a file (complete a task) and, in Asana, rename another one:"
sed -i 's/^completed: false/completed: true/' roadmap/add-dark-mode.md
gid=$(sed -n 's/^asana_gid: "\(.*\)"/\1/p' roadmap/plan-the-q1-roadmap.md)
curl -fsS -X PATCH -H 'content-type: application/json' \
  -d '{"name":"Plan the Q1 roadmap (draft due Friday)"}' "$root/_sim/tasks/$gid" > /dev/null
bridge sync --dry-run
bridge sync
echo; echo "\$ head -4 roadmap/plan-the-q1-roadmap.md"; head -4 roadmap/plan-the-q1-roadmap.md
bridge sync
bridge status
echo
echo "Done. The folder is in ./demo/roadmap; point asana-bridge.toml at a real project and"
echo "export ASANA_TOKEN (unset ASANA_BASE_URL) to sync with Asana."
