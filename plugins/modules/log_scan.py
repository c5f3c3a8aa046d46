# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: log_scan
short_description: Scan log files for error patterns, incrementally or from the end, as inspection findings
version_added: 1.0.0
description:
  - The handbook's C(tail -n 1000 /var/log/messages) and the nginx, redis and rabbitmq log tails, done properly.
  - In O(mode=incremental) only what was appended since the last scan is read. The inode, device and offset per
    file are kept in O(state_file) on the host. A new inode (rotation) or a file shorter than the offset
    (truncation) starts over at the beginning of the file. A first scan reads only the last O(max_bytes). A
    trailing line without its newline is left for the next scan.
  - In O(mode=tail) the last O(lines) lines are read backwards from the end of the file, so the cost does not
    depend on the file size (at most O(max_bytes) are read).
  - Every line is decoded as UTF-8, else GBK, else UTF-8 with replacement characters; bytes never make
    the module fail.
  - One finding C(logs.<name>) per file. Its status is the worst severity among the patterns that matched at least
    O(min_count) lines. A file that does not exist, is a directory or cannot be read is an V(unknown) finding.
  - The state file is not written in check mode, so a check run reports what a real run would.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  files:
    description: Log files to scan.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Path of the log file on the host.
        type: path
        required: true
      name:
        description:
          - Short name, the finding id becomes C(logs.<name>). Lower-case letters, digits and C(_).
          - Defaults to the file name without C(.log), made safe.
        type: str
      optional:
        description: A file that does not exist is V(ok) instead of V(unknown).
        type: bool
        default: false
      patterns:
        description: Patterns for this file instead of O(patterns) (same shape).
        type: list
        elements: dict
  patterns:
    description:
      - Patterns searched in every line. Each is a dict with C(name) (lower-case letters, digits, C(_)), C(regex)
        (Python syntax), C(severity) (V(warning) or V(critical), default V(warning)) and C(ignore_case) (default V(true)).
      - Defaults to C(oom), C(no_space), C(read_only_fs), C(panic) (critical) and C(fatal), C(error), C(fail) (warning).
    type: list
    elements: dict
  extra_patterns:
    description: Patterns added to O(patterns) (or to the defaults).
    type: list
    elements: dict
    default: []
  mode:
    description: Read what was appended since the last scan, or the last O(lines) lines.
    type: str
    choices: [incremental, tail]
    default: incremental
  lines:
    description: Number of lines read in O(mode=tail).
    type: int
    default: 1000
  max_bytes:
    description: At most this many bytes are read per file and scan (the end of the file when more is new).
    type: int
    default: 4194304
  min_count:
    description: A pattern counts towards the status from this many matching lines on.
    type: int
    default: 1
  samples:
    description: Matching lines kept per pattern in the finding details.
    type: int
    default: 5
  host:
    description: Host name put in the findings (the role passes C(inventory_hostname)). Defaults to the host's node name.
    type: str
  state_file:
    description: JSON file on the host that keeps the offset and inode per file for O(mode=incremental).
    type: path
    default: /var/lib/kubeops/log_scan.json
"""

EXAMPLES = r"""
- name: Scan /var/log/messages for what was logged since yesterday's inspection
  kubeops.runbook.log_scan:
    files:
      - path: /var/log/messages
        name: messages
    host: "{{ inventory_hostname }}"

- name: The handbook's tail -n 1000 of the nginx error log, with one more pattern
  kubeops.runbook.log_scan:
    mode: tail
    lines: 1000
    files:
      - path: /data/iuap/logs/nginx/developer-center_error.log
        name: nginx_developer_center_error
    extra_patterns:
      - name: upstream_timeout
        regex: upstream timed out
        severity: warning
"""

RETURN = r"""
findings:
  description: One C(logs.<name>) finding per file (target is the path).
  returned: always
  type: list
  elements: dict
  sample:
    - id: logs.messages
      category: logs
      target: /var/log/messages
      host: node1
      status: warning
      summary: error 2, fail 1 in 120 line(s)
      details: {counts: {error: 2, fail: 1, oom: 0}, samples: {error: ["... kubelet: E0529 ..."]}}
files:
  description: What was read per file.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: messages, path: /var/log/messages, lines: 120, start: 1048576, end: 1060000, reset: null, counts: {error: 2}}
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _logscan as L
from ansible_collections.kubeops.runbook.plugins.module_utils._systemd import load_state, save_state


def run(module: AnsibleModule) -> dict:
    params = module.params
    for option, minimum in (("lines", 1), ("max_bytes", 1024), ("min_count", 1), ("samples", 0)):
        if params[option] < minimum:
            raise L.LogScanError(f"{option}: must be at least {minimum}, got {params[option]}")
    host = params["host"] or platform.node()
    base = L.compile_patterns(params["patterns"]) + L.compile_patterns(params["extra_patterns"])
    incremental = params["mode"] == "incremental"
    state = load_state(params["state_file"]) if incremental else {}
    offsets = dict(state.get("files") or {}) if isinstance(state.get("files"), dict) else {}
    findings, facts, seen = [], [], set()
    for item in params["files"]:
        path = item["path"]
        name = L.log_name(item["name"]) if item.get("name") else L.default_name(path)
        if name in seen:
            raise L.LogScanError(f"files: name {name!r} is used twice; give each file its own name")
        seen.add(name)
        patterns = base if item.get("patterns") is None else L.compile_patterns(item["patterns"])
        try:
            if incremental:
                read = L.read_incremental(path, offsets.get(path), params["max_bytes"])
                offsets[path] = {"inode": read["inode"], "device": read["device"], "offset": read["end"]}
            else:
                read = L.read_tail(path, params["lines"], params["max_bytes"])
        except L.LogUnreadable as exc:
            findings.append(L.file_finding(name, path, host, None, patterns, problem=str(exc), optional=item["optional"]))
            facts.append({"name": name, "path": path, "error": str(exc)})
            continue
        scan = L.scan_lines(read["data"], patterns, params["samples"])
        findings.append(L.file_finding(name, path, host, scan, patterns, read, min_count=params["min_count"]))
        facts.append({"name": name, "path": path, "lines": scan["lines"], "counts": scan["counts"],
                      "start": read["start"], "end": read["end"], "reset": read["reset"]})
    if incremental and not module.check_mode:
        try:
            save_state(params["state_file"], {**state, "files": offsets})
        except OSError as exc:
            module.warn(f"could not record the scan offsets in {params['state_file']}: {exc}")
    return {"findings": findings, "files": facts}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "required": True, "options": {
                "path": {"type": "path", "required": True},
                "name": {"type": "str"},
                "optional": {"type": "bool", "default": False},
                "patterns": {"type": "list", "elements": "dict"},
            }},
            "patterns": {"type": "list", "elements": "dict"},
            "extra_patterns": {"type": "list", "elements": "dict", "default": []},
            "mode": {"type": "str", "choices": ["incremental", "tail"], "default": "incremental"},
            "lines": {"type": "int", "default": 1000},
            "max_bytes": {"type": "int", "default": 4194304},
            "min_count": {"type": "int", "default": 1},
            "samples": {"type": "int", "default": 5},
            "host": {"type": "str"},
            "state_file": {"type": "path", "default": "/var/lib/kubeops/log_scan.json"},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except L.LogScanError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
