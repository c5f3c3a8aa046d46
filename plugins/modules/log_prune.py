# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: log_prune
short_description: Delete or compress dated log files in one directory, keeping today's
version_added: 0.1.0
description:
  - Prunes files such as C(tomcat_access.2021-04-27.log) in one directory, as the handbook's daily disk
    check asks (delete every C(tomcat_access) log but today's).
  - The age of a file comes from the date in its name (O(date_format)) or from its modification time.
  - Only regular files directly inside O(path) are touched. Symbolic links are never followed (they are
    skipped and reported), files held open for writing by another process (found by scanning C(/proc/*/fd))
    are skipped, and every file is re-checked (device, inode, realpath inside O(path)) right before it goes.
  - In check mode the module lists exactly what would go and how many bytes that frees.
  - The controller-side action plugin appends one line per run that changed something to the audit log
    C(kubeops_audit_log) (default C(./reports/audit.log)).
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  path:
    description: Absolute path of the directory holding the log files. Subdirectories are not descended into.
    type: path
    required: true
  pattern:
    description: Glob matched against file names in O(path) (no C(/)).
    type: str
    default: tomcat_access.*.log
  age_source:
    description:
      - V(name) takes each file's date from its name using O(date_format); files whose name carries no
        such date are left alone and reported as skipped.
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
      - Keep files dated today and the O(keep_days) days before. V(0) keeps today's only.
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
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
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
"""

RETURN = r"""
pruned:
  description: Files deleted or compressed (in check mode, the ones that would be).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/data/iuap/logs/nginx/tomcat_access.2021-04-20.log", "date": "2021-04-20", "size": 10240,
            "action": "deleted"}]
kept:
  description: Names of matching files kept because they are recent enough.
  returned: always
  type: list
  elements: str
left_alone:
  description:
    - Matching entries left alone, with the reason (symlink, open for writing, no date in the name, ...).
    - Not named C(skipped), which Ansible reads as a skipped task.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/data/iuap/logs/nginx/tomcat_access.2021-01-01.log", "reason": "symlink: only regular files are pruned"}]
files_pruned:
  description: Number of files deleted or compressed.
  returned: always
  type: int
bytes_freed:
  description: Bytes freed (for compression, original size minus compressed size).
  returned: always
  type: int
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._prune import AGE_SOURCES, MODES, PruneError, prune

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "pattern": {"type": "str", "default": "tomcat_access.*.log"},
    "age_source": {"type": "str", "choices": list(AGE_SOURCES), "default": "name"},
    "date_format": {"type": "str", "default": "%Y-%m-%d"},
    "keep_days": {"type": "int", "default": 0},
    "mode": {"type": "str", "choices": list(MODES), "default": "delete"},
    "when_usage_over": {"type": "float"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        result = prune(p["path"], p["pattern"], p["keep_days"], p["age_source"], p["date_format"], p["mode"],
                       p["when_usage_over"], module.check_mode)
    except PruneError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"cannot prune path={p['path']}: {exc}")
    gone = [i["path"] for i in result["pruned"]]
    result["audit"] = [record("prune", p["path"], {"files": gone}, {"files": [],
                              "compressed": [i.get("compressed_to") for i in result["pruned"] if "compressed_to" in i]},
                              pattern=p["pattern"], mode=p["mode"], bytes_freed=result["bytes_freed"])] if gone else []
    if module._diff:
        result["diff"] = {"before": "".join(f"{f}\n" for f in gone),
                          "after": "".join(f"{i['compressed_to']}\n" for i in result["pruned"] if "compressed_to" in i),
                          "before_header": f"{p['path']}/{p['pattern']}", "after_header": f"{p['path']}/{p['pattern']}"}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
