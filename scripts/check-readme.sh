#!/usr/bin/env bash
# The README's Go, Node and Python examples are the tested example programs, verbatim
# (the install suite does the same for the C and C++ ones), and so are the two
# programs of its Redis fleet (run by tests/redis/bindings/readme_fleet.sh in
# scripts/test-redis.sh, against a private redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import sys
readme = open("README.md").read()
go = open("bindings/go/example/main.go").read()
go = go[go.index("package main"):]
node = open("bindings/node/example.js").read()
node = node[node.index("\n") + 1:]
py = open("bindings/python/example.py").read()
py = py[py.index("import asset_cache"):]
fleet_go = open("bindings/go/example/fleet/main.go").read()
fleet_go = fleet_go[fleet_go.index("package main"):]
rust = open("examples/hello.rs").read()
rust = rust[rust.index("use asset_cache"):]
fleet_py = open("bindings/python/fleet.py").read()
fleet_py = fleet_py[fleet_py.index("import os"):]
bad = [name for name, body in (("examples/hello.rs", rust), ("bindings/go/example/main.go", go), ("bindings/node/example.js", node),
                               ("bindings/python/example.py", py),
                               ("bindings/go/example/fleet/main.go", fleet_go),
                               ("bindings/python/fleet.py", fleet_py))
       if body.rstrip("\n") not in readme]
if bad:
    sys.exit("README.md does not contain the current " + ", ".join(bad))
print("README examples match the tested programs")
PY
