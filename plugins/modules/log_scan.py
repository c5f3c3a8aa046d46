# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: log_scan
short_description: Scan log files for error patterns or an access log's 5xx rate, incrementally or from the end
version_added: 1.0.0
description:
  - The handbook's C(tail -n 1000 /var/log/messages) and the nginx, redis and rabbitmq log tails, done properly.
  - In O(mode=incremental) everything appended since the last scan is read, in chunks and in bounded memory
    (a chunk plus at most one incomplete line of 1 MiB; longer lines are matched in 1 MiB pieces). What was read
    is recorded per file in O(state_file) on the host (see the notes). A new inode (rotation) starts over at the
    beginning of the new file, after the rest of the old one when it is still in the same directory (renamed, not
    compressed). A file shorter than the recorded offset, or whose first bytes changed (truncated and written again,
    as logrotate's C(copytruncate) does), is read from the beginning. A first scan reads only the last O(max_bytes).
    A trailing line without its newline is left for the next scan.
  - The reading stops when O(time_budget) is spent. What was not read is reported as an V(unknown) finding with
    the number of bytes, never dropped silently, and the next scan continues there.
  - In O(mode=tail) the last O(lines) lines are read backwards from the end of the file, so the cost does not
    depend on the file size (at most O(max_bytes) are read).
  - Every line is decoded as UTF-8, else GBK, else UTF-8 with replacement characters; bytes never make
    the module fail.
  - Only lines that hold a literal every match of a pattern must contain are decoded and matched (the literals
    are taken from the regexes; GNU grep searches for them when the host has it). Patterns without such a literal
    (for example C(\d{5})) are matched on every line, which is slower.
  - Logs are opened without following symbolic links out of reach. A link is followed only when it points to a
    plain name in its own directory, or when root (or the user running the module) owns the link and the
    directory it is in and nobody else can write that directory. Any other link is refused as an V(unknown)
    finding that names the link, so a service user cannot point its log at another file and have root copy its
    lines into the report.
  - C(files[].kind=errors) (default) gives one finding C(logs.<name>) per file whose status is the worst severity
    among the patterns that matched at least O(min_count) lines.
  - C(files[].kind=access) reads an access log (nginx C(access_log) in the C(combined) or C(main) format, tomcat's
    AccessLogValve C(common) or C(combined)) and gives one finding C(logs.<name>) with the number of requests, the
    count per HTTP status class and the share of 5xx responses, V(warning) from O(access_5xx_warning) percent,
    V(critical) from O(access_5xx_critical) percent, judged only from O(access_min_requests) requests on.
  - A file that does not exist, is a directory, cannot be read or is a refused link is an V(unknown) finding.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
notes:
  - In O(mode=incremental) the module keeps state on the host, in O(state_file). It records the device, inode,
    offset and a hash of the first 4 KiB of every file it read (a JSON file, written atomically, directory created 0700). It is
    not written in check mode, so a check run reports what a real run would. Delete the file to start over.
options:
  files:
    description: Log files to scan.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Path of the log file on the host.
          - May be a glob in its last component (C(/data/iuap/logs/nginx/tomcat_access.*.log)); the newest matching
            file (by modification time) is read. When a newer file appears, the rest of the previous one is read
            first, so nothing written before midnight is missed.
        type: path
        required: true
      name:
        description:
          - Short name, the finding id becomes C(logs.<name>). Lower-case letters, digits and C(_).
          - Defaults to the file name without C(.log) (and without glob characters), made safe.
        type: str
      optional:
        description: A file that does not exist is V(ok) instead of V(unknown).
        type: bool
        default: false
      kind:
        version_added: 1.1.0
        description:
          - V(errors) counts the lines that match O(patterns).
          - V(access) counts requests by HTTP status and judges the share of 5xx responses.
        type: str
        choices: [errors, access]
        default: errors
      patterns:
        description: Patterns for this file instead of O(patterns) (same shape). Only for C(kind=errors).
        type: list
        elements: dict
      ignore:
        version_added: 2.0.0
        description:
          - Python regexes (case-insensitive) of lines of this file that are known and harmless; added to O(ignore).
          - A line that matches one of them is counted for no pattern (the finding's C(ignored_lines) says how many
            were left out). Example, a redis host, whose start-up advice about C(vm.overcommit_memory) the
            M(kubeops.runbook.redis_info) check reports as a finding of its own -
            C(Memory overcommit must be enabled).
        type: list
        elements: str
      status_regex:
        version_added: 1.1.0
        description:
          - For C(kind=access), a Python regex whose first group captures the 3-digit HTTP status of a line, for
            access logs in a custom format.
          - Defaults to the common/combined log format, where the status follows the quoted request
            (C(host ident user [time] "GET / HTTP/1.1" 502 ...)).
          - Lines it does not match are counted as not in the access log format; a file with none that match is
            V(unknown).
        type: str
  patterns:
    description:
      - Patterns searched in every line. Each is a dict with C(name) (lower-case letters, digits, C(_)), C(regex)
        (Python syntax), C(severity) (V(warning) or V(critical), default V(warning)) and C(ignore_case) (default V(true)).
      - Defaults to C(oom), C(no_space), C(read_only_fs), C(panic) (critical) and C(fatal), C(error) (including klog
        C(E) lines), C(fail) (warning).
    type: list
    elements: dict
  extra_patterns:
    description: Patterns added to O(patterns) (or to the defaults).
    type: list
    elements: dict
    default: []
  ignore:
    version_added: 2.0.0
    description:
      - Python regexes (case-insensitive) of lines that are known and harmless, in every file; a line that matches
        one is counted for no pattern.
    type: list
    elements: str
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
    description:
      - In O(mode=tail), at most this many bytes are read from the end of each file.
      - In O(mode=incremental), the first scan of a file (no state yet) reads at most this many bytes from its end.
        Later scans read everything appended, within O(time_budget).
    type: int
    default: 4194304
  time_budget:
    version_added: 1.1.0
    description:
      - Seconds this run may spend reading, shared by all files (each file gets what is left divided by the files
        still to read). What could not be read in time is reported as V(unknown) with its size, and the next scan
        continues there.
    type: float
    default: 120
  min_count:
    description: A pattern counts towards the status from this many matching lines on.
    type: int
    default: 1
  samples:
    description: Matching lines (or 5xx lines) kept per pattern in the finding details.
    type: int
    default: 5
  access_5xx_warning:
    version_added: 1.1.0
    description: For C(kind=access), the percentage of 5xx responses among the requests read from which the finding
      is V(warning).
    type: float
    default: 1.0
  access_5xx_critical:
    version_added: 1.1.0
    description: For C(kind=access), the percentage of 5xx responses from which the finding is V(critical).
    type: float
    default: 5.0
  access_min_requests:
    version_added: 1.1.0
    description: For C(kind=access), fewer requests than this are too few to judge (the finding stays V(ok)).
    type: int
    default: 20
  host:
    description: Host name put in the findings (the role passes C(inventory_hostname)). Defaults to the host's node name.
    type: str
  state_file:
    description: JSON file on the host that keeps what was read per file for O(mode=incremental).
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

- name: 5xx rate of today's tomcat access log and of an nginx access log since the last inspection
  kubeops.runbook.log_scan:
    files:
      - path: /data/iuap/logs/nginx/tomcat_access.*.log
        name: tomcat_access
        kind: access
      - path: /var/log/nginx/access.log
        name: nginx_access
        kind: access
    access_5xx_warning: 1
    access_5xx_critical: 5
    access_min_requests: 50
"""

RETURN = r"""
findings:
  description: One C(logs.<name>) finding per file (target is the path as given).
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
    - id: logs.tomcat_access
      category: logs
      target: /data/iuap/logs/nginx/tomcat_access.*.log
      host: mw1
      status: critical
      summary: 5xx 7.5% (75 of 1000 requests)
      details: {requests: 1000, statuses: {2xx: 900, 3xx: 5, 4xx: 20, 5xx: 75}, percent_5xx: 7.5,
                file: /data/iuap/logs/nginx/tomcat_access.2021-04-27.log}
files:
  description: What was read per file.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: messages, path: /var/log/messages, kind: errors, lines: 120, start: 1048576, end: 1060000, reset: null,
       unscanned_bytes: 0, counts: {error: 2}}
"""

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _logscan


def main() -> None:
    module = AnsibleModule(argument_spec={**_logscan.ARGUMENT_SPEC, "host": {"type": "str"}}, supports_check_mode=True)
    try:
        result = _logscan.inspect(module, module.params, module.params["host"] or platform.node())
    except _logscan.LogScanError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
