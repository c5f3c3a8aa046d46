# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd over time for kubeops.runbook. PRIVATE to the collection: not a public API.

What goes wrong with an etcd cluster slowly, beside what ``_etcd`` checks at one moment:

- the backups: ``etcd_backup_info`` (a host check of ``host_inspection_info`` too) ages the newest snapshot that counts
  in the backup directory of an etcd host that takes backups and in its ``copy_to`` directory (``_etcd``'s
  ``list_snapshots``/``snapshot_findings`` decide what counts);
- the member count: an even number or fewer than 3 voting members (``member_count_finding``);
- the database against its quota, read from the etcd unit on the host (``read_quota``), and the share of it that a
  defragmentation would free (``defrag_finding``; the defragmentation itself is ``kubeops.runbook.etcd_defrag``).
"""
from __future__ import annotations

import os
import re
import shlex
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _etcd

DEFAULT_QUOTA_BYTES = 2 * 2 ** 30
QUOTA_FLAG = "quota-backend-bytes"
QUOTA_ENV = "ETCD_QUOTA_BACKEND_BYTES"
CONFIG_FLAG = "config-file"
CONFIG_ENV = "ETCD_CONFIG_FILE"
DEFRAG_RUNBOOK = "the etcd_maintenance runbook's defragmentation (kubeops.runbook.etcd_defrag)"
MIB = 2 ** 20


# -- member count ------------------------------------------------------------------------------------------------
def member_count_finding(members: list[dict]) -> dict | None:
    """etcd.member_count: a warning for fewer than 3 voting members or an even number of them; None without members
    (etcd.quorum is critical then)."""
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (  # pylint: disable=import-outside-toplevel
        OK, WARNING, finding)
    voters = sum(1 for m in members if not m.get("is_learner"))
    if not voters:
        return None
    tolerates = (voters - 1) // 2
    details = {"members": voters, "learners": len(members) - voters, "tolerates": tolerates}
    if voters < 3:
        return finding("etcd.member_count", "cluster", WARNING,
                       f"{voters} voting member(s): fewer than 3, the cluster cannot lose a member and keep quorum",
                       details=details)
    if voters % 2 == 0:
        return finding("etcd.member_count", "cluster", WARNING,
                       f"{voters} voting members, an even number: it tolerates {tolerates} failure(s), as {voters - 1} "
                       f"members would, with one more to lose quorum; add or remove one", details=details)
    return finding("etcd.member_count", "cluster", OK, f"{voters} voting members (tolerates {tolerates} failure(s))",
                   details=details)


# -- database size, quota and defragmentation ------------------------------------------------------------------
def defrag_share(status: dict) -> tuple[int, float]:
    """(bytes a defragmentation would free, that in percent of the database) from a parsed endpoint status."""
    size, in_use = int(status.get("db_size") or 0), int(status.get("db_size_in_use") or 0)
    free = max(0, size - in_use) if in_use else 0   # etcd < 3.4 reports no dbSizeInUse: nothing known
    return free, (round(100.0 * free / size, 1) if size else 0.0)


def defrag_finding(name: str, host: str | None, status: dict, quota_bytes: int, warning_percent: float,
                   min_quota_percent: float) -> dict:
    """etcd.defrag for one member: a warning when defragmentation would free more than ``warning_percent`` of a
    database that has reached ``min_quota_percent`` of the quota (a small database is not worth the pause)."""
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (  # pylint: disable=import-outside-toplevel
        OK, WARNING, finding)
    free, share = defrag_share(status)
    size = int(status.get("db_size") or 0)
    of_quota = round(100.0 * size / quota_bytes, 1)
    details = {"db_size": size, "db_size_in_use": int(status.get("db_size_in_use") or 0), "free_bytes": free,
               "free_percent": share, "quota_bytes": quota_bytes, "db_percent_of_quota": of_quota,
               "warning_percent": warning_percent, "min_quota_percent": min_quota_percent}
    text = f"defragmentation would free {share}% ({free // MIB} MiB) of the {size // MIB} MiB database"
    if share > warning_percent and of_quota >= min_quota_percent:
        return finding("etcd.defrag", name, WARNING, f"{text}, {of_quota}% of the quota: run {DEFRAG_RUNBOOK}",
                       host=host, details=details)
    return finding("etcd.defrag", name, OK, text, host=host, details=details)


def _positive_int(value: t.Any) -> int | None:
    try:
        number = int(str(value).strip().strip("'\""))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a systemd EnvironmentFile (comments, blank lines and ``export`` skipped; quotes removed)."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export "):].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def parse_unit_show(text: str) -> tuple[list[str], dict[str, str], list[str]]:
    """``systemctl show -p ExecStart -p Environment -p EnvironmentFiles <unit>`` -> (ExecStart argv, the unit's
    Environment=, its EnvironmentFiles paths)."""
    argv: list[str] = []
    env: dict[str, str] = {}
    files: list[str] = []
    for line in (text or "").splitlines():
        key, _sep, value = line.partition("=")
        if key == "ExecStart" and not argv:
            match = re.search(r"argv\[\]=(.*?) ;", value)
            try:
                argv = shlex.split(match.group(1)) if match else []
            except ValueError:
                argv = match.group(1).split() if match else []
        elif key == "Environment" and value.strip():
            try:
                words = shlex.split(value)
            except ValueError:
                words = value.split()
            env.update(w.split("=", 1) for w in words if "=" in w)
        elif key == "EnvironmentFiles" and value.strip():
            files.append(value.split(" (", 1)[0].strip())
    return argv, env, files


def _flag(argv: list[str], name: str) -> str | None:
    """The value of ``--name=value``/``--name value`` (or one dash) in argv; the last one wins, as in etcd."""
    found = None
    for index, word in enumerate(argv):
        for prefix in (f"--{name}", f"-{name}"):
            if word == prefix and index + 1 < len(argv):
                found = argv[index + 1]
            elif word.startswith(prefix + "="):
                found = word[len(prefix) + 1:]
    return found


def _expand(value: str, env: dict[str, str]) -> str:
    """``$VAR``/``${VAR}`` in an ExecStart word, as systemd expands them."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def quota_from_unit(argv: list[str], env: dict[str, str], read: t.Callable[[str], str]) -> tuple[int | None, str]:
    """(quota in bytes or None, where it was read) from the etcd unit: ``--config-file`` (etcd then ignores flags and
    environment), the ``--quota-backend-bytes`` flag, ``ETCD_QUOTA_BACKEND_BYTES``; None: unset (etcd's default)."""
    config = _flag(argv, CONFIG_FLAG) or env.get(CONFIG_ENV)
    if config:
        config = _expand(config, env)
        match = re.search(rf"^\s*{QUOTA_FLAG}\s*:\s*(\S+)", read(config), re.MULTILINE)
        return (_positive_int(match.group(1)) if match else None), f"{QUOTA_FLAG} in {config}"
    flag = _flag(argv, QUOTA_FLAG)
    if flag is not None:
        return _positive_int(_expand(flag, env)), f"--{QUOTA_FLAG} of the etcd unit"
    if env.get(QUOTA_ENV):
        return _positive_int(env[QUOTA_ENV]), f"{QUOTA_ENV} of the etcd unit"
    return None, "etcd's default (not set in the etcd unit)"


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read(1 << 20)


def read_quota(module: t.Any, unit: str) -> tuple[int, str]:
    """(quota in bytes, where it came from) of the etcd unit on this host; etcd's 2 GiB default when it is unset or
    cannot be read (the source then says why)."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return DEFAULT_QUOTA_BYTES, "etcd's default (systemctl not found to read the etcd unit)"
    rc, out, err = module.run_command([systemctl, "show", "--no-pager", "-p", "ExecStart", "-p", "Environment",
                                       "-p", "EnvironmentFiles", "--", unit], environ_update={"LC_ALL": "C"})
    if rc != 0 or "argv[]=" not in out:
        why = (err or "").strip()[:120] or f"unit {unit} has no ExecStart"
        return DEFAULT_QUOTA_BYTES, f"etcd's default (etcd unit not readable: {why})"
    argv, env, files = parse_unit_show(out)
    merged: dict[str, str] = {}
    for path in files:   # systemd: Environment= wins over EnvironmentFile=
        try:
            merged.update(parse_env_file(_read_text(path.lstrip("-"))))
        except OSError:
            continue
    merged.update(env)
    try:
        quota, source = quota_from_unit(argv, merged, _read_text)
    except OSError as exc:
        return DEFAULT_QUOTA_BYTES, f"etcd's default (config file not readable: {exc.strerror or exc})"
    return (quota, source) if quota else (DEFAULT_QUOTA_BYTES, source)


# -- backups, on each etcd host that takes them -------------------------------------------------------------------
BACKUP_SPEC: dict[str, dict] = {
    "backup_dir": {"type": "path", "default": "/var/backups/etcd"},
    "copy_to": {"type": "path"},
    "pattern": {"type": "str", "default": "*.db"},
    "warning_hours": {"type": "float", "default": 25},
    "critical_hours": {"type": "float", "default": 73},
    "missing_status": {"type": "str", "choices": ["warning", "critical"], "default": "warning"},
}


def _backup_dirs(params: dict) -> list[tuple[str, str]]:
    dirs = [("backup_dir", params.get("backup_dir") or "/var/backups/etcd")]
    if params.get("copy_to") and os.path.normpath(params["copy_to"]) != os.path.normpath(dirs[0][1]):
        dirs.append(("copy_to", params["copy_to"]))
    return dirs


def inspect_backups(module: t.Any, params: dict, host: str | None) -> dict:
    """backups.etcd_snapshot for this host's backup directory and its copy_to directory (options: BACKUP_SPEC)."""
    from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (  # pylint: disable=import-outside-toplevel
        UNKNOWN, finding, one_line)
    del module
    findings: list[dict] = []
    now = time.time()
    for role, directory in _backup_dirs(params):
        try:
            entries = _etcd.list_snapshots(directory, params["pattern"])
        except OSError as exc:
            findings.append(finding("backups.etcd_snapshot", directory, UNKNOWN,
                                    f"check could not run: cannot read {directory}: {one_line(exc.strerror or exc)}",
                                    host=host, details={"directory": directory, "role": role}))
            continue
        for item in _etcd.snapshot_findings(entries, directory, host, now, params["warning_hours"],
                                            params["critical_hours"], params["missing_status"]):
            item["details"]["role"] = role
            findings.append(item)
    return {"findings": findings}


def backup_failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    del label
    try:
        return [("backups.etcd_snapshot", directory) for _role, directory in _backup_dirs(args)]
    except (TypeError, AttributeError):
        return [("backups.etcd_snapshot", "/var/backups/etcd")]
