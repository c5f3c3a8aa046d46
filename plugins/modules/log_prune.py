# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/log_prune.py. The work is done on the target by the
# helper the log_prune role ships (roles/log_prune/files/kubeops_prune.py), the same file its timer runs.
from __future__ import annotations

DOCUMENTATION = r"""
module: log_prune
short_description: Delete or compress dated log files in one directory, keeping today's
version_added: 1.0.0
description:
  - Prunes files such as C(tomcat_access.2021-04-27.log) in one directory, as the handbook's daily disk
    check asks (delete every C(tomcat_access) log but today's).
  - The age of a file comes from the date in its name (O(date_format)) or from its modification time. Either way
    it counts in calendar days. A file goes when its date is before today minus O(keep_days). With
    O(age_source=mtime) that is the set C(find PATH -maxdepth 1 -name PATTERN -type f -daystart -mtime +KEEP_DAYS)
    selects (C(-daystart); plain C(-mtime) counts 24-hour periods back from now and keeps more).
  - Guards refuse, with one line naming the value, rather than over-act. O(path) (after resolving symbolic links)
    must be at or below one of O(allowed_roots) and is never the root directory, a top-level directory such as
    C(/data) or C(/var), or a system tree (C(/bin), C(/boot), C(/dev), C(/etc), C(/lib*), C(/proc), C(/root),
    C(/run), C(/sbin), C(/snap), C(/sys), C(/usr), C(/var/lib), C(/var/cache), C(/var/spool), C(/var/mail),
    C(/var/backups)) whatever O(allowed_roots) says. O(pattern) needs at least 3 characters that match only
    themselves - C(*), C(?) and bracket expressions, read as C(fnmatch) reads them, do not count (so C(*), C(*.*) and
    C([!]xyz]*) are refused). O(keep_days) is 0 to 36500.
  - Only regular files directly inside O(path) are touched, found with one directory listing and deleted by name
    relative to the open directory (a name cannot lead out of it, whatever is swapped in). Symbolic links,
    directories, executable files, files held open for writing by another process (found by scanning
    C(/proc/*/fdinfo)) and, when compressing, C(.gz) files are left alone and counted with the reason.
  - The result holds counts and the first O(list_limit) names (by name) of each list, not every file, so a
    directory of 100,000 files gives a small result.
  - In check mode the module reports exactly what would go and how many bytes that frees.
  - The action plugin runs the helper that the C(kubeops.runbook.log_prune) role ships (the file its systemd timer
    runs), with the host's Python 3 (C(ansible_python_interpreter), else C(/usr/bin/python3)), so a playbook run and a
    scheduled run prune alike. It appends one line per run that changed something (or would, in check mode) to the
    audit log C(kubeops_audit_log) (default C(~/.local/state/kubeops.runbook/audit.log)).
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  path:
    description: Absolute path of the directory holding the log files. Subdirectories are not descended into.
    type: path
    required: true
  pattern:
    description: Glob matched against file names in O(path) (no C(/), at least 3 characters that are not wildcards or bracket expressions).
    type: str
    default: tomcat_access.*.log
  age_source:
    description:
      - V(name) takes each file's date from its name using O(date_format); files whose name carries no
        such date are left alone and counted.
      - V(mtime) uses the local date of the file's modification time.
    type: str
    choices: [name, mtime]
    default: name
  date_format:
    description: strftime pattern of the date in the file names (directives C(%Y %y %m %d %H %M %S %j)).
    type: str
    default: '%Y-%m-%d'
  keep_days:
    description:
      - Keep files dated today and the O(keep_days) days before. V(0) keeps today's only. At most V(36500).
      - Files dated in the future are kept.
    type: int
    default: 0
  mode:
    description: V(delete) removes the files; V(compress) gzips each to C(<name>.gz) and removes the original.
    type: str
    choices: [delete, compress]
    default: delete
  when_usage_over:
    description:
      - Prune only when the filesystem holding O(path) is used more than this many percent (as C(df) shows).
      - Unset prunes regardless of usage.
    type: float
  allowed_roots:
    version_added: 1.1.0
    description:
      - Directories under which pruning is allowed (O(path) must be one of them or below one, after resolving
        symbolic links). System trees stay refused even when listed here.
    type: list
    elements: path
    default: [/var/log, /data, /opt, /srv, /home, /mnt, /tmp, /var/tmp]
  list_limit:
    version_added: 1.1.0
    description: How many names (the first by name) the result lists for RV(pruned), RV(kept) and RV(left_alone).
    type: int
    default: 20
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff lists the first O(list_limit) files and how many more.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Delete every tomcat_access log but today's
  kubeops.runbook.log_prune:
    path: /data/iuap/logs/nginx
    pattern: tomcat_access.*.log

- name: Compress access logs older than a week, only when the disk is more than 80% full
  kubeops.runbook.log_prune:
    path: /data/iuap/logs/nginx
    pattern: '*_access.*.log'
    keep_days: 7
    mode: compress
    when_usage_over: 80

- name: Delete application logs by modification time (the set find -daystart -mtime +30 selects)
  kubeops.runbook.log_prune:
    path: /app/logs/gateway
    pattern: '*.log.*'
    age_source: mtime
    keep_days: 30
    allowed_roots: [/app/logs]
"""

RETURN = r"""
files_pruned:
  description: Number of files deleted or compressed (in check mode, that would be).
  returned: always
  type: int
bytes_freed:
  description: Bytes freed (for compression, original size minus compressed size).
  returned: always
  type: int
files_kept:
  description: Number of matching files kept because they are recent enough.
  returned: always
  type: int
files_left_alone:
  description: Number of matching entries left alone (see RV(left_alone_reasons)).
  returned: always
  type: int
left_alone_reasons:
  description: How many entries were left alone, per reason.
  returned: always
  type: dict
  sample: {"symlink: only regular files are pruned": 1, "open for writing by another process": 1}
pruned:
  description: The first O(list_limit) files (by name) deleted or compressed, or that would be in check mode.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/data/iuap/logs/nginx/tomcat_access.2021-04-20.log", "date": "2021-04-20", "size": 10240,
            "action": "deleted"}]
kept:
  description: The first O(list_limit) names of matching files kept because they are recent enough.
  returned: always
  type: list
  elements: str
left_alone:
  description:
    - The first O(list_limit) matching entries left alone, with the reason (symlink, open for writing, no date
      in the name, ...).
    - Not named C(skipped), which Ansible reads as a skipped task.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/data/iuap/logs/nginx/tomcat_access.2021-01-01.log", "reason": "symlink: only regular files are pruned"}]
cutoff:
  description: Files dated before this day (ISO date) go.
  returned: always
  type: str
  sample: "2021-04-27"
usage_percent_before:
  description: Used percentage of the filesystem holding O(path) before pruning.
  returned: always
  type: float
usage_percent_after:
  description: Used percentage after pruning (equal to the value before in check mode).
  returned: always
  type: float
path:
  description: The directory pruned.
  returned: always
  type: str
pattern:
  description: The glob used.
  returned: always
  type: str
mode:
  description: V(delete) or V(compress).
  returned: always
  type: str
audit:
  description: Audit records of this run (one when something was or would be pruned); the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""
