# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk space and inodes for kubeops.runbook. PRIVATE to the collection: not a public API.

``parse_mounts()`` reads /proc/mounts (octal escapes, pseudo filesystems skipped), ``usage()`` turns an
``os.statvfs`` result into the numbers ``df`` prints (same rounding), ``disk_findings()`` applies the
warning/critical percent thresholds (``disk.space``, ``disk.inodes``).
"""
from __future__ import annotations

import math
import os
import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _kubelet_eviction
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    OK, UNKNOWN, by_threshold, finding,
)

PSEUDO_FS = frozenset((
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "mqueue", "debugfs", "tracefs", "securityfs",
    "pstore", "bpf", "autofs", "hugetlbfs", "configfs", "fusectl", "binfmt_misc", "nsfs", "rpc_pipefs", "nfsd",
    "ramfs", "squashfs", "efivarfs", "selinuxfs", "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal", "rootfs",
    "iso9660", "tmpfs",
))
_OCTAL = re.compile(r"\\([0-7]{3})")
# container layers, pod volumes, network namespaces and systemd-nspawn's host files are not disks to watch
EXCLUDE_MOUNTPOINTS = (
    r"^/var/lib/docker/.+", r"^/var/lib/containerd/.+", r"^/run/containerd/", r"^/var/lib/kubelet/pods/",
    r"^/var/lib/kubelet/plugins/", r"^/run/netns/", r"^/run/docker/netns/", r"^/run/host/", r"^/snap/",
)


class DiskError(Exception):
    """Bad input (thresholds); the message is for an operator."""


def validate_thresholds(params: dict) -> None:
    for kind in ("space", "inodes"):
        warn, crit = params.get(f"{kind}_warning"), params.get(f"{kind}_critical")
        for option, value in ((f"{kind}_warning", warn), (f"{kind}_critical", crit)):
            if value is not None and not 0 <= value <= 100:
                raise DiskError(f"{option}: must be a percentage between 0 and 100, got {value}")
        if warn is not None and crit is not None and warn > crit:
            raise DiskError(f"{kind}_warning: {warn} is above {kind}_critical {crit}; the warning level must not exceed the critical one")


def unescape(field: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text: str, include_fs: t.Iterable[str] = (), exclude_fs: t.Iterable[str] | None = None,
                 exclude_mountpoints: t.Iterable[str] = EXCLUDE_MOUNTPOINTS) -> list[dict]:
    """/proc/mounts -> [{device, mountpoint, fstype, options}].

    Pseudo filesystems and container/pod mount points are skipped; the last mount on a mount point wins; a block
    device mounted several times (bind mounts) is measured once, at its shortest mount point.
    """
    skip = set(PSEUDO_FS if exclude_fs is None else exclude_fs) - set(include_fs)
    excluded = [re.compile(p) for p in exclude_mountpoints]
    found: dict[str, dict] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        device, mountpoint, fstype, options = (unescape(f) for f in fields[:4])
        if fstype in skip or not mountpoint.startswith("/") or any(p.search(mountpoint) for p in excluded):
            continue
        found.pop(mountpoint, None)
        found[mountpoint] = {"device": device, "mountpoint": mountpoint, "fstype": fstype,
                             "options": options.split(",")}
    by_device: dict[str, dict] = {}
    result = []
    for mount in found.values():
        if mount["device"].startswith("/dev/"):
            other = by_device.get(mount["device"])
            if other is not None:
                if len(mount["mountpoint"]) < len(other["mountpoint"]):
                    result[result.index(other)] = mount
                    by_device[mount["device"]] = mount
                continue
            by_device[mount["device"]] = mount
        result.append(mount)
    return result


def mount_of(path: str, mountpoints: t.Iterable[str]) -> str | None:
    """Longest mountpoint containing ``path`` (already made absolute)."""
    best = None
    for mp in mountpoints:
        if path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/":
            if best is None or len(mp) > len(best):
                best = mp
    return best


def _pct(used: int, avail: int) -> float | None:
    total = used + avail
    if total <= 0:
        return None
    # df rounds up to a whole percent; keep one decimal and round up the same way
    return math.ceil(used * 1000 / total) / 10


def usage(st: t.Any) -> dict:
    """An ``os.statvfs`` result (or a dict of its fields) -> bytes and inodes like ``df`` and ``df -i`` show."""
    get = st.get if isinstance(st, dict) else lambda k: getattr(st, k)
    frsize = get("f_frsize") or get("f_bsize")
    blocks, bfree, bavail = get("f_blocks"), get("f_bfree"), get("f_bavail")
    files, ffree, favail = get("f_files"), get("f_ffree"), get("f_favail")
    used = (blocks - bfree) * frsize
    avail = bavail * frsize
    inodes_used = files - ffree
    return {
        "size_bytes": blocks * frsize,
        "used_bytes": used,
        "avail_bytes": avail,
        "used_percent": _pct(used, avail),
        "inodes_total": files,
        "inodes_used": inodes_used,
        "inodes_free": favail,
        "inodes_used_percent": _pct(inodes_used, ffree) if files else None,
    }


def _human(num: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(num) < 1024 or unit == "TiB":
            return f"{num:.0f}{unit}" if unit == "B" else f"{num:.1f}{unit}"
        num /= 1024
    return f"{num}"


def disk_findings(entries: list[dict], host: str | None, params: dict) -> list[dict]:
    """entries: [{target, mountpoint, usage | error}] -> disk.space and disk.inodes findings."""
    findings = []
    for entry in entries:
        target = entry["target"]
        base = {k: entry[k] for k in ("mountpoint", "device", "fstype") if entry.get(k) is not None}
        if entry.get("error"):
            for fid in ("disk.space", "disk.inodes"):
                findings.append(finding(fid, target, UNKNOWN, entry["error"], host=host, details=base))
            continue
        use = entry["usage"]
        pct = use["used_percent"]
        # the kubelet's filesystems carry thresholds below its eviction ones (_kubelet_eviction.apply)
        space_warning = entry.get("space_warning", params.get("space_warning"))
        space_critical = entry.get("space_critical", params.get("space_critical"))
        status = by_threshold(pct, space_warning, space_critical)
        where = "" if target == entry.get("mountpoint") else f" (on {entry.get('mountpoint')})"
        summary = (f"{pct:g}% used, {_human(use['avail_bytes'])} free of {_human(use['size_bytes'])}{where}"
                   if pct is not None else f"size 0, nothing to measure{where}")
        if pct is None:
            status = OK
        hard = [f"{v['hard']} free ({k})" for k, v in ((entry.get("kubelet") or {}).get("signals") or {}).items()
                if v.get("hard")]
        if status != OK and hard:
            summary += f"; the kubelet evicts pods below {', '.join(hard)}"
        findings.append(finding("disk.space", target, status, summary, host=host, details={
            **base, "used_percent": pct, "size_bytes": use["size_bytes"], "used_bytes": use["used_bytes"],
            "avail_bytes": use["avail_bytes"], "warning": space_warning, "critical": space_critical,
            **({"kubelet": entry["kubelet"]} if entry.get("kubelet") else {})}))
        ipct = use["inodes_used_percent"]
        if ipct is None:
            findings.append(finding("disk.inodes", target, OK, f"no inode limit on this filesystem{where}", host=host,
                                    details={**base, "inodes_total": use["inodes_total"]}))
            continue
        istatus = by_threshold(ipct, params.get("inodes_warning"), params.get("inodes_critical"))
        findings.append(finding("disk.inodes", target, istatus,
                                f"{ipct:g}% of inodes used, {use['inodes_free']} free{where}", host=host, details={
                                    **base, "inodes_used_percent": ipct, "inodes_total": use["inodes_total"],
                                    "inodes_used": use["inodes_used"], "inodes_free": use["inodes_free"],
                                    "warning": params.get("inodes_warning"),
                                    "critical": params.get("inodes_critical")}))
    return findings


def collect(mounts: list[dict], paths: list[str] | None, statvfs: t.Callable[[str], t.Any] = os.statvfs) -> list[dict]:
    """Measure every mount, or the given paths (each attributed to its mount)."""
    entries: list[dict] = []
    by_mp = {m["mountpoint"]: m for m in mounts}
    targets = [(m["mountpoint"], m["mountpoint"]) for m in mounts] if not paths else [
        (p, mount_of(os.path.abspath(p), by_mp) or "") for p in paths]
    for target, mountpoint in targets:
        mount = by_mp.get(mountpoint, {})
        entry: dict[str, t.Any] = {"target": target, "mountpoint": mountpoint or None,
                                   "device": mount.get("device"), "fstype": mount.get("fstype")}
        try:
            entry["usage"] = usage(statvfs(target))
        except FileNotFoundError:
            entry["error"] = f"{target} does not exist"
        except OSError as exc:
            entry["error"] = f"{target} cannot be measured: {exc.strerror}"
        entries.append(entry)
    return entries


# -- the check, as disk_usage_info and host_inspection_info run it ------------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "paths": {"type": "list", "elements": "path"},
    "include_fs": {"type": "list", "elements": "str", "default": []},
    "space_warning": {"type": "float", "default": 80},
    "space_critical": {"type": "float", "default": 90},
    "inodes_warning": {"type": "float", "default": 80},
    "inodes_critical": {"type": "float", "default": 90},
    "kubelet_eviction": {"type": "bool", "default": True},
    "kubelet_config": {"type": "path"},
    "kubelet_eviction_margin": {"type": "float", "default": 5},
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """Space and inodes of every mount (or of ``params["paths"]``) on this host (options: ARGUMENT_SPEC)."""
    del module
    validate_thresholds(params)
    try:
        with open("/proc/mounts", encoding="utf-8", errors="surrogateescape") as handle:
            mounts = parse_mounts(handle.read(), include_fs=params["include_fs"])
        mounts = [m for m in mounts if os.path.isdir(m["mountpoint"])]  # not files bind-mounted over files
    except OSError as exc:
        if not params["paths"]:
            problem = {"target": "/proc/mounts", "error": f"cannot read /proc/mounts: {exc.strerror}"}
            return {"findings": disk_findings([problem], host, params), "mounts": []}
        mounts = []
    entries = collect(mounts, params["paths"])
    _kubelet_eviction.apply(entries, params, mount_of)
    return {"findings": disk_findings(entries, host, params), "mounts": entries}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    """(``disk.space``, path) of each path measured, for an unknown finding when the check could not run."""
    del label
    paths = args.get("paths") if isinstance(args.get("paths"), list) else []
    return [("disk.space", str(path)) for path in paths] or [("disk.space", "/proc/mounts")]
