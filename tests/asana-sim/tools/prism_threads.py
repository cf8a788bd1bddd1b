#!/usr/bin/env python3
"""Send the requests the Asana connector makes for subtasks and comments through Prism
(`@stoplight/prism-cli`, proxy mode, `--errors`) in front of a running asana-sim, and fail
on any request or response Prism finds outside Asana's OpenAPI description.

A manual referee for the subtask and story routes until the end-to-end Prism test
(`tests/prism.rs`) drives them through the binary.

Usage (from the repository root): cargo build -p asana-sim && npm ci --prefix .ci/prism &&
    python3 tests/asana-sim/tools/prism_threads.py \\
        specs/asana/asana_oas.prism.yaml target/debug/asana-sim .ci/prism/node_modules/.bin/prism
Exit status 0 when Prism found no violation.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

spec, sim_bin, prism_bin = sys.argv[1:4]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


sim_port, prism_port = free_port(), free_port()
sim = subprocess.Popen([sim_bin, "--demo", "--port", str(sim_port)], stdout=subprocess.PIPE, text=True)
info = json.loads(sim.stdout.readline())
direct, token, P = info["base_url"], info["token"], info["project"]
env = dict(os.environ, FORCE_COLOR="0", NO_COLOR="1")
prism = subprocess.Popen(
    [prism_bin, "proxy", spec, direct, "-h", "127.0.0.1", "-p", str(prism_port), "--errors"],
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
via = f"http://127.0.0.1:{prism_port}"
log = []
while True:
    line = prism.stdout.readline()
    if not line:
        sys.exit("prism exited:\n" + "".join(log))
    log.append(line)
    if "Prism is listening" in line:
        break


def call(base, method, path, body=None):
    req = urllib.request.Request(base + path, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


failures = 0
try:
    t = call(direct, "GET", f"/projects/{P}/tasks?limit=1")[1]["data"][0]["gid"]
    sub_fields = "name,completed"
    story_fields = "type,resource_subtype,text,html_text,created_by.name,created_at,is_edited"
    made = {}
    steps = [
        ("POST", f"/tasks/{t}/subtasks?opt_fields={sub_fields}", {"data": {"name": "step"}}, 201, "sub"),
        ("POST", f"/tasks/{t}/subtasks?opt_fields={sub_fields}", {"data": {"name": "done", "completed": True}}, 201, None),
        ("GET", f"/tasks/{t}/subtasks?limit=1&opt_fields={sub_fields}", None, 200, None),
        ("GET", f"/tasks/{t}/subtasks?limit=100&opt_fields={sub_fields}", None, 200, None),
        ("GET", f"/tasks/{t}?opt_fields=num_subtasks,name", None, 200, None),
        ("PUT", "/tasks/{sub}?opt_fields=" + sub_fields, {"data": {"name": "renamed"}}, 200, None),
        ("PUT", "/tasks/{sub}?opt_fields=" + sub_fields, {"data": {"completed": True}}, 200, None),
        ("DELETE", "/tasks/{sub}", None, 200, None),
        ("POST", f"/tasks/{t}/stories?opt_fields={story_fields}", {"data": {"html_text": "<body><strong>hi</strong> there</body>"}}, 201, "story"),
        ("GET", f"/tasks/{t}/stories?limit=1&opt_fields={story_fields}", None, 200, None),
        ("GET", f"/tasks/{t}/stories?limit=100&opt_fields={story_fields}", None, 200, None),
        ("PUT", "/stories/{story}?opt_fields=" + story_fields, {"data": {"html_text": "<body><em>edited</em></body>"}}, 200, None),
        ("GET", "/stories/{story}?opt_fields=target", None, 200, None),
        ("DELETE", "/stories/{story}", None, 200, None),
    ]
    for method, path, body, expect, keep in steps:
        path = path.format(**made)
        status, payload = call(via, method, path, body)
        ok = status == expect
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} {method} {path} -> {status}" + ("" if ok else f" {json.dumps(payload)[:300]}"))
        if keep:
            made[keep] = payload["data"]["gid"]
finally:
    time.sleep(0.5)
    prism.terminate()
    rest, _ = prism.communicate(timeout=10)
    log.append(rest)
    sim.terminate()
    sim.wait()

violations = [line for line in "".join(log).splitlines() if "✖" in line or "violation" in line.lower()]
for line in violations:
    print("PRISM", line)
failures += len(violations)
print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
