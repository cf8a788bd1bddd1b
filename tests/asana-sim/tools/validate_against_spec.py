#!/usr/bin/env python3
"""Exercise every route of a running asana-sim and validate each response body against the
response schema Asana's OpenAPI description gives for that operation and status.

A stand-in for the Prism proxy when it is not installed: OpenAPI 3.0 schemas are converted
to JSON Schema (`nullable` honoured, also inside `allOf`) and checked with `jsonschema`.

Usage (from the repository root): cargo build -p asana-sim &&
    python3 tests/asana-sim/tools/validate_against_spec.py \
        specs/asana/asana_oas.prism.yaml target/debug/asana-sim
Exit status 0 when every response matches.
"""
import copy
import json
import subprocess
import sys
import urllib.error
import urllib.request

import os

import jsonschema
import yaml

spec = yaml.safe_load(open(sys.argv[1]))
binary = sys.argv[2]
# STRICT=1: do not honour `nullable` inside `allOf` parts (some validators, possibly Prism's,
# ignore it); shows which real-Asana nulls such a validator would flag.
STRICT = os.environ.get("STRICT") == "1"


def convert(node):
    """OpenAPI 3.0 schema -> JSON Schema (draft 7), refs kept as #/components/schemas/..."""
    if isinstance(node, list):
        return [convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v) for k, v in node.items() if k not in ("nullable", "example", "readOnly", "writeOnly", "x-insert-after", "format", "description")}
    if node.get("nullable"):
        if "type" in out:
            t = out["type"]
            out["type"] = [t, "null"] if isinstance(t, str) else t + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    # allOf whose parts say nullable: the whole value may be null.
    if not STRICT and "allOf" in node and any(isinstance(p, dict) and p.get("nullable") for p in node["allOf"]):
        parts = [convert({k: v for k, v in p.items() if k != "nullable"}) if isinstance(p, dict) else p for p in node["allOf"]]
        rest = {k: v for k, v in out.items() if k != "allOf"}
        return {"anyOf": [dict(rest, allOf=parts), {"type": "null"}]}
    return out


root = {"components": {"schemas": {k: convert(v) for k, v in spec["components"]["schemas"].items()}}}


def response_schema(template, method, status):
    op = spec["paths"][template][method]
    resp = op["responses"].get(status)
    if resp is None:
        return None
    if "$ref" in resp:
        o = spec
        for part in resp["$ref"].lstrip("#/").split("/"):
            o = o[part]
        resp = o
    schema = resp.get("content", {}).get("application/json", {}).get("schema")
    return convert(schema) if schema else None


proc = subprocess.Popen([binary, "--demo"], stdout=subprocess.PIPE, text=True)
info = json.loads(proc.stdout.readline())
base, token, P, W = info["base_url"], info["token"], info["project"], info["workspace"]
# VIA=<url>: send every request through a proxy in front of the simulator (e.g. Prism).
base = os.environ.get("VIA", base)
failures = 0


def call(method, path, body=None, auth=True):
    req = urllib.request.Request(base + path, method=method)
    if auth:
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


def check(template, method, path, body=None, expect=None, auth=True):
    global failures
    status, payload = call(method.upper(), path, body, auth)
    schema = response_schema(template, method, status)
    verdict = "ok"
    if expect is not None and status != expect:
        verdict = f"status {status} != {expect}"
    elif schema is None and status != 429:
        verdict = f"no schema for {status}"
    elif schema is not None:
        validator = jsonschema.Draft7Validator(dict(copy.deepcopy(schema), **root))
        errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
        if errors:
            verdict = "; ".join(f"{list(e.path)}: {e.message[:160]}" for e in errors[:3])
    if verdict != "ok":
        failures += 1
    print(f"{'PASS' if verdict == 'ok' else 'FAIL'} {method.upper()} {path} -> {status} {'' if verdict == 'ok' else verdict}")
    return payload


try:
    me = check("/users/{user_gid}", "get", "/users/me")["data"]["gid"]
    check("/users/{user_gid}", "get", "/users/me", expect=401, auth=False)
    check("/users/{user_gid}", "get", f"/users/{me}?opt_fields=name,email,workspaces.name")
    check("/users", "get", f"/users?workspace={W}&limit=2")
    check("/workspaces/{workspace_gid}/users", "get", f"/workspaces/{W}/users?opt_fields=name,email")
    check("/workspaces", "get", "/workspaces?limit=1")
    check("/workspaces/{workspace_gid}", "get", f"/workspaces/{W}")
    check("/projects/{project_gid}", "get", f"/projects/{P}")
    check("/projects", "get", f"/projects?workspace={W}&limit=1&opt_fields=name,archived")
    check("/projects", "get", "/projects", expect=400)
    check("/projects/{project_gid}/tasks", "get", f"/projects/{P}/tasks?limit=2")
    fields = "name,notes,completed,completed_at,due_on,assignee,assignee.name,tags.name,memberships.section.name,memberships.project.name,modified_at,created_at,workspace,permalink_url,html_notes,created_by,projects.name"
    tasks = check("/projects/{project_gid}/tasks", "get", f"/projects/{P}/tasks?limit=100&opt_fields={fields}")["data"]
    check("/projects/{project_gid}/tasks", "get", f"/projects/{P}/tasks?limit=0", expect=400)
    check("/projects/{project_gid}/tasks", "get", f"/projects/{P}/tasks?opt_fields=bogus", expect=400)
    check("/tasks", "get", f"/tasks?project={P}&limit=3&modified_since=2020-01-01T00:00:00Z")
    t = tasks[0]["gid"]
    check("/tasks/{task_gid}", "get", f"/tasks/{t}")
    check("/tasks/{task_gid}", "get", "/tasks/1999999999999999", expect=404)
    sections = check("/projects/{project_gid}/sections", "get", f"/projects/{P}/sections?limit=10")["data"]
    s = sections[0]["gid"]
    check("/sections/{section_gid}", "get", f"/sections/{s}")
    check("/projects/{project_gid}/sections", "post", f"/projects/{P}/sections", {"data": {"name": "Review"}}, expect=201)
    tags = check("/workspaces/{workspace_gid}/tags", "get", f"/workspaces/{W}/tags?limit=50")["data"]
    check("/tags", "get", f"/tags?workspace={W}&opt_fields=name,color")
    check("/tags/{tag_gid}", "get", f"/tags/{tags[0]['gid']}")
    check("/tasks/{task_gid}/tags", "get", f"/tasks/{t}/tags")
    tag = check("/tags", "post", "/tags", {"data": {"name": "new", "workspace": W}}, expect=201)["data"]["gid"]
    check("/workspaces/{workspace_gid}/tags", "post", f"/workspaces/{W}/tags", {"data": {"name": "new2"}}, expect=201)
    created = check("/tasks", "post", "/tasks", {"data": {"name": "n", "notes": "x", "projects": [P], "assignee": "me", "due_on": "2027-01-01"}}, expect=201)["data"]["gid"]
    check("/tasks/{task_gid}", "put", f"/tasks/{created}", {"data": {"completed": True, "assignee": None}})
    check("/tasks/{task_gid}/addTag", "post", f"/tasks/{created}/addTag", {"data": {"tag": tag}})
    check("/tasks/{task_gid}/removeTag", "post", f"/tasks/{created}/removeTag", {"data": {"tag": tag}})
    check("/sections/{section_gid}/addTask", "post", f"/sections/{s}/addTask", {"data": {"task": created}})
    check("/tasks/{task_gid}/removeProject", "post", f"/tasks/{created}/removeProject", {"data": {"project": P}})
    check("/tasks/{task_gid}/addProject", "post", f"/tasks/{created}/addProject", {"data": {"project": P, "section": s}})
    sync = check("/events", "get", f"/events?resource={P}", expect=412)["sync"]
    check("/tasks/{task_gid}", "delete", f"/tasks/{created}")
    check("/events", "get", f"/events?resource={P}&sync={sync}")
    check("/events", "get", f"/events?resource={P}&sync={sync}&opt_fields=action,resource,user.name,change.field,parent.name")
    # Subtasks and comment stories.
    sub = check("/tasks/{task_gid}/subtasks", "post", f"/tasks/{t}/subtasks", {"data": {"name": "step"}}, expect=201)["data"]["gid"]
    check("/tasks/{task_gid}/subtasks", "post", f"/tasks/{t}/subtasks?opt_fields=name,completed,parent.name", {"data": {"name": "step 2", "completed": True}}, expect=201)
    check("/tasks/{task_gid}/subtasks", "get", f"/tasks/{t}/subtasks?limit=1")
    check("/tasks/{task_gid}/subtasks", "get", f"/tasks/{t}/subtasks?opt_fields=name,completed,num_subtasks,parent")
    check("/tasks/{task_gid}", "get", f"/tasks/{sub}?opt_fields=parent,num_subtasks,name")
    check("/tasks/{task_gid}", "put", f"/tasks/{sub}", {"data": {"name": "renamed", "completed": True}})
    check("/tasks/{task_gid}", "delete", f"/tasks/{sub}")
    story_fields = "type,resource_subtype,text,html_text,created_by.name,created_at,is_edited,is_editable,target.name"
    c = check("/tasks/{task_gid}/stories", "post", f"/tasks/{t}/stories", {"data": {"text": "hello"}}, expect=201)["data"]["gid"]
    check("/tasks/{task_gid}/stories", "post", f"/tasks/{t}/stories?opt_fields={story_fields}", {"data": {"html_text": "<body><strong>hi</strong></body>"}}, expect=201)
    check("/tasks/{task_gid}/stories", "post", f"/tasks/{t}/stories", {"data": {"html_text": "<body><b>x</b></body>"}}, expect=400)
    check("/tasks/{task_gid}/stories", "get", f"/tasks/{t}/stories?limit=1")
    check("/tasks/{task_gid}/stories", "get", f"/tasks/{t}/stories?limit=100&opt_fields={story_fields}")
    check("/stories/{story_gid}", "get", f"/stories/{c}")
    check("/stories/{story_gid}", "put", f"/stories/{c}?opt_fields={story_fields}", {"data": {"text": "hello again"}})
    check("/stories/{story_gid}", "delete", f"/stories/{c}")
    check("/stories/{story_gid}", "get", f"/stories/{c}", expect=404)
    check("/events", "get", f"/events?resource={P}&sync={sync}")
    check("/batch", "post", "/batch", {"data": {"actions": [
        {"relative_path": f"/tasks/{t}", "method": "get"},
        {"relative_path": "/tasks", "method": "post", "data": {"name": "b", "projects": [P]}}]}})
finally:
    proc.terminate()
    proc.wait()

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
