# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubelet's disk eviction thresholds, for the disk check. PRIVATE to the collection: not a public API.

On a host that runs a kubelet, the disk check's thresholds for the kubelet's filesystems (``nodefs``: the one holding
its root directory, ``/var/lib/kubelet``; ``imagefs``: the one holding the container runtime's, ``/var/lib/containerd``)
are brought below the kubelet's eviction thresholds, so the warning comes before the kubelet evicts pods:

- critical from ``100 - hard%`` used (the kubelet evicts at once from there), or lower when so configured;
- warning from ``100 - max(hard%, soft%) - margin`` used, or lower when so configured.

Where the thresholds come from, as the kubelet reads them: ``--eviction-hard``/``--eviction-soft`` on its command line
(the unit and its drop-ins), else ``evictionHard``/``evictionSoft`` of its ``--config`` file (a KubeletConfiguration,
YAML or JSON), else the kubelet's defaults (``nodefs.available<10%``, ``imagefs.available<15%``). A config file that
cannot be read or is no KubeletConfiguration leaves the configured thresholds as they are, and the finding says why.
The YAML is read by a small parser of the two maps (block or flow style): PyYAML is not on every host.
"""
from __future__ import annotations

import glob
import json
import os
import re
import typing as t

UNIT_FILES = ("/etc/systemd/system/kubelet.service", "/run/systemd/system/kubelet.service",
              "/usr/lib/systemd/system/kubelet.service", "/lib/systemd/system/kubelet.service")
DROPIN_DIRS = ("/usr/lib/systemd/system/kubelet.service.d", "/lib/systemd/system/kubelet.service.d",
               "/run/systemd/system/kubelet.service.d", "/etc/systemd/system/kubelet.service.d")
DEFAULT_ROOT_DIR = "/var/lib/kubelet"
IMAGEFS_DIRS = ("/var/lib/containerd", "/var/lib/docker", "/var/lib/containers")
KUBELET_DEFAULTS = {"nodefs.available": "10%", "imagefs.available": "15%"}
SIGNALS = {"nodefs": "nodefs.available", "imagefs": "imagefs.available"}

_FLAG = r"(?<![\w-])--{name}(?:=|\s+)[\"']?([^\s\"']+)"
_KIND = re.compile(r"^\s*[\"']?kind[\"']?\s*:\s*[\"']?KubeletConfiguration\b", re.MULTILINE)


class EvictionError(Exception):
    """The kubelet's eviction thresholds could not be read; the message says why."""


def _flag(text: str, name: str) -> str | None:
    found = re.findall(_FLAG.format(name=re.escape(name)), text)
    return found[-1] if found else None   # a later ExecStart (a drop-in) wins


def unit_text(unit_files: t.Iterable[str] = UNIT_FILES, dropin_dirs: t.Iterable[str] = DROPIN_DIRS) -> str | None:
    """The kubelet unit and its drop-ins, in the order systemd reads them; None when the host has no kubelet unit."""
    unit = next((path for path in unit_files if os.path.isfile(path)), None)
    if unit is None:
        return None
    texts = []
    for path in [unit] + sorted((p for d in dropin_dirs for p in glob.glob(os.path.join(d, "*.conf"))),
                                key=os.path.basename):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                texts.append(handle.read())
        except OSError:
            continue
    # systemd's line continuations: one ExecStart on one line; an empty ExecStart= (a drop-in's reset) drops the
    # command lines before it, not their Environment= lines (kubeadm's drop-in sets the flags in Environment=)
    lines = "\n".join(texts).replace("\\\n", " ").splitlines()
    resets = [i for i, line in enumerate(lines) if re.match(r"^\s*ExecStart\s*=\s*$", line)]
    if resets:
        lines = [line for i, line in enumerate(lines) if i >= resets[-1] or not re.match(r"^\s*ExecStart\s*=", line)]
    return "\n".join(lines)


def parse_flag_map(value: str) -> dict[str, str]:
    """``memory.available<100Mi,nodefs.available<10%`` -> {signal: threshold}."""
    out = {}
    for item in value.split(","):
        if "<" in item:
            signal, threshold = item.split("<", 1)
            out[signal.strip()] = threshold.strip()
    return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _yaml_map(text: str, key: str) -> dict[str, str] | None:
    """The top-level map ``key`` of a YAML document, block (``key:`` then indented ``a: b``) or flow (``{a: b}``)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*:\s*(.*?)\s*(#.*)?$", line)
        if not match:
            continue
        rest = match.group(1)
        if rest.startswith("{"):
            body = rest.strip("{}")
            pairs = [pair.split(":", 1) for pair in body.split(",") if ":" in pair]
            return {_unquote(name): _unquote(value) for name, value in pairs if name.strip()}
        out: dict[str, str] = {}
        for item in lines[index + 1:]:
            if not item.strip() or item.lstrip().startswith("#"):
                continue
            if not item[:1].isspace():
                break
            name, sep, value = item.strip().partition(":")
            if sep:
                out[_unquote(name)] = _unquote(value.split(" #")[0])
        return out
    return None


def parse_config(text: str) -> dict[str, dict[str, str] | None]:
    """{"hard": {...} or None, "soft": {...} or None} of a KubeletConfiguration (YAML or JSON); None: not set.

    Raises EvictionError when the text is no KubeletConfiguration."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise EvictionError(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != "KubeletConfiguration":
            raise EvictionError("not a KubeletConfiguration")
        return {"hard": data.get("evictionHard"), "soft": data.get("evictionSoft")}
    for document in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        if _KIND.search(document):
            return {"hard": _yaml_map(document, "evictionHard"), "soft": _yaml_map(document, "evictionSoft")}
    raise EvictionError("not a KubeletConfiguration (no kind: KubeletConfiguration)")


def read(config_path: str | None, unit: str | None) -> dict:
    """The kubelet's eviction thresholds and where they came from.

    ``{"hard": {signal: threshold}, "soft": {...}, "source": "...", "root_dir": path}``; raises EvictionError when
    the config file the kubelet is given cannot be read (and no flag sets the thresholds)."""
    unit = unit or ""
    root_dir = _flag(unit, "root-dir") or DEFAULT_ROOT_DIR
    path = config_path or _flag(unit, "config")
    flag_hard, flag_soft = _flag(unit, "eviction-hard"), _flag(unit, "eviction-soft")
    from_file: dict[str, t.Any] = {"hard": None, "soft": None}
    problem = None
    if path:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                from_file = parse_config(handle.read())
        except OSError as exc:
            problem = f"kubelet config {path} cannot be read: {exc.strerror}"
        except EvictionError as exc:
            problem = f"kubelet config {path}: {exc}"
    if problem and not flag_hard:
        raise EvictionError(problem)
    hard = parse_flag_map(flag_hard) if flag_hard else from_file["hard"]
    soft = parse_flag_map(flag_soft) if flag_soft else from_file["soft"]
    source = ("kubelet flags" if flag_hard else f"kubelet config {path}" if path and from_file["hard"] is not None
              else "kubelet defaults")
    return {"hard": dict(KUBELET_DEFAULTS) if hard is None else {k: str(v) for k, v in hard.items()},
            "soft": {k: str(v) for k, v in (soft or {}).items()}, "source": source, "root_dir": root_dir,
            "config": path}


def available_percent(threshold: str | None, size_bytes: int) -> float | None:
    """An eviction threshold as percent of the filesystem that must stay available: ``10%`` or a quantity."""
    if not threshold:
        return None
    threshold = threshold.strip()
    if threshold.endswith("%"):
        try:
            return float(threshold[:-1])
        except ValueError:
            return None
    from ansible_collections.kubeops.runbook.plugins.module_utils._quantity import (  # pylint: disable=import-outside-toplevel
        QuantityError, parse_quantity,
    )
    try:
        value = parse_quantity(threshold)
    except QuantityError:
        return None
    return round(float(value) * 100 / size_bytes, 1) if size_bytes > 0 else None


def apply(entries: list[dict], params: dict, mount_of: t.Callable[[str, t.Iterable[str]], str | None],
          unit: str | None = None) -> None:
    """Put the kubelet's eviction-derived thresholds (``space_warning``/``space_critical``, ``kubelet``) on the
    entries of the disk check that measure its nodefs or imagefs; nothing on a host without a kubelet.

    ``mount_of(path, mountpoints)`` names the mount holding a path; ``unit`` is the kubelet unit's text (read from
    the host when not given)."""
    if not params.get("kubelet_eviction", True):
        return
    config_path = params.get("kubelet_config")
    if unit is None:
        unit = unit_text()
    if unit is None and not config_path:
        return
    margin = params.get("kubelet_eviction_margin")
    margin = 5.0 if margin is None else float(margin)
    mountpoints = [e["mountpoint"] for e in entries if e.get("mountpoint")]
    try:
        eviction = read(config_path, unit)
    except EvictionError as exc:
        note = {"eviction": None, "note": f"{exc}; the configured thresholds apply"}
        fs_of = {"nodefs": mount_of(_flag(unit or "", "root-dir") or DEFAULT_ROOT_DIR, mountpoints)}
        for entry in entries:
            if entry.get("mountpoint") and entry["mountpoint"] == fs_of["nodefs"]:
                entry["kubelet"] = dict(note, filesystems=["nodefs"])
        return
    imagefs_dir = next((d for d in IMAGEFS_DIRS if os.path.isdir(d)), IMAGEFS_DIRS[0])
    fs_of = {"nodefs": mount_of(eviction["root_dir"], mountpoints), "imagefs": mount_of(imagefs_dir, mountpoints)}
    for entry in entries:
        use = entry.get("usage")
        kinds = [kind for kind, mp in fs_of.items() if mp and entry.get("mountpoint") == mp]
        if not kinds or not use:
            continue
        warning, critical = params.get("space_warning"), params.get("space_critical")
        applied = {}
        for kind in kinds:
            signal = SIGNALS[kind]
            hard = available_percent(eviction["hard"].get(signal), use["size_bytes"])
            soft = available_percent(eviction["soft"].get(signal), use["size_bytes"])
            if hard is None and soft is None:
                continue
            applied[signal] = {"hard": eviction["hard"].get(signal), "soft": eviction["soft"].get(signal)}
            earliest = max(x for x in (hard, soft) if x is not None)
            warn_at = round(max(0.0, 100 - earliest - margin), 1)
            warning = warn_at if warning is None else min(warning, warn_at)
            if hard is not None:
                crit_at = round(100 - hard, 1)
                critical = crit_at if critical is None else min(critical, crit_at)
        info = {"source": eviction["source"], "filesystems": kinds, "signals": applied, "margin": margin}
        if applied:
            if warning is not None and critical is not None and warning > critical:
                warning = critical
            entry["space_warning"], entry["space_critical"] = warning, critical
        else:
            info["note"] = "no nodefs/imagefs eviction threshold set: the configured thresholds apply"
        entry["kubelet"] = info
