# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd units and their journal for kubeops.runbook. PRIVATE to the collection: not a public API.

One ``systemctl show -p ... u1 u2 ...`` and one ``journalctl -o json -p err -u u1 -u u2 --since ...`` per host:
``show_command()``/``journal_command()`` build the argv, ``parse_show()``/``parse_journal()`` turn the output into
plain data, ``unit_findings()`` applies the handbook's rule (``active (running)`` and no error logs).
Also the small JSON state file helpers shared by the modules that remember the last inspection on the host.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import (
    CRITICAL, OK, UNKNOWN, WARNING, finding, worst,
)
from ansible_collections.kubeops.runbook.plugins.module_utils._redact import sample_text

SHOW_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "ActiveEnterTimestamp", "MainPID",
                   "MemoryCurrent", "NRestarts", "Result", "UnitFileState")
CATEGORIES = ("control_plane_services", "node_services")
# journal fields that name the unit an entry is about, in order of preference (journalctl -u matches them all)
_UNIT_FIELDS = ("_SYSTEMD_UNIT", "UNIT", "OBJECT_SYSTEMD_UNIT", "COREDUMP_UNIT")
_UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+$")
_UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".mount", ".path", ".scope", ".slice", ".swap",
                  ".device", ".automount")
MAX_SAMPLE_CHARS = 400
_KLOG_ERROR = re.compile(r"^[EF]\d{4} \d\d:\d\d:\d\d")


class SystemdError(Exception):
    """Bad input or output that cannot be understood; the message is for an operator."""


# -- state file on the host ---------------------------------------------------------------------------------
def load_state(path: str) -> dict:
    """JSON object kept on the host between inspections; an absent or damaged file is an empty state."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(4 * 1024 * 1024).decode("utf-8", "replace"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(path: str, data: dict) -> None:
    """Write the state atomically (temporary file + rename), creating the directory (0700) when missing."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kubeops-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- input ------------------------------------------------------------------------------------------------
def normalize_unit(name: str) -> str:
    """``kubelet`` -> ``kubelet.service``; rejects names systemd would not accept (and shell tricks)."""
    name = str(name).strip()
    if not name or not _UNIT_NAME.match(name) or name.startswith("-"):
        raise SystemdError(f"units: {name!r} is not a systemd unit name")
    return name if name.endswith(_UNIT_SUFFIXES) else f"{name}.service"


def normalize_units(units: t.Iterable[str]) -> list[str]:
    result: list[str] = []
    for unit in units:
        norm = normalize_unit(unit)
        if norm not in result:
            result.append(norm)
    if not result:
        raise SystemdError("units: at least one unit is required")
    return result


def show_command(systemctl: str, units: list[str]) -> list[str]:
    return [systemctl, "show", "--no-pager", "-p", ",".join(SHOW_PROPERTIES), "--", *units]


def journal_command(journalctl: str, units: list[str], since: str, klog_errors: bool = False) -> list[str]:
    """Error-priority lines of the units; with ``klog_errors`` every line (klog ``E`` lines are logged at info)."""
    argv = [journalctl, "-o", "json", "--no-pager", "-q", "--since", since]
    if not klog_errors:
        argv[3:3] = ["-p", "err"]
    for unit in units:
        argv += ["-u", unit]
    return argv


# -- parsing ----------------------------------------------------------------------------------------------
def _int_or_none(value: str | None) -> int | None:
    if value is None or value == "" or value == "[not set]":
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    # MemoryCurrent is 2^64-1 ("infinity") when memory accounting is off
    return None if number >= 2 ** 63 else number


def parse_show(text: str) -> list[dict]:
    """``systemctl show`` output of several units (blocks separated by blank lines) -> one dict per block."""
    blocks: list[dict] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        line = line.rstrip("\r")
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if not sep or not key or not key.isidentifier():
            raise SystemdError(f"unexpected line in systemctl show output: {line[:120]!r}")
        current[key] = value
    if current:
        blocks.append(current)
    return [_unit_props(block) for block in blocks]


def _unit_props(block: dict[str, str]) -> dict:
    return {
        "id": block.get("Id", ""),
        "load_state": block.get("LoadState", ""),
        "active_state": block.get("ActiveState", ""),
        "sub_state": block.get("SubState", ""),
        "since": block.get("ActiveEnterTimestamp") or None,
        "main_pid": _int_or_none(block.get("MainPID")),
        "memory_bytes": _int_or_none(block.get("MemoryCurrent")),
        "restarts": _int_or_none(block.get("NRestarts")),
        "result": block.get("Result") or None,
        "unit_file_state": block.get("UnitFileState") or None,
    }


def match_units(units: list[str], blocks: list[dict]) -> dict[str, dict]:
    """Blocks come in the order of the units asked for; check that by Id (systemctl prints Id=<name given>)."""
    by_id = {block["id"]: block for block in blocks if block.get("id")}
    result: dict[str, dict] = {}
    for index, unit in enumerate(units):
        if unit in by_id:
            result[unit] = by_id[unit]
        elif len(blocks) == len(units) and not blocks[index].get("id"):
            result[unit] = blocks[index]
    return result


def _message(value: t.Any) -> str:
    """MESSAGE is a string, or a list of byte values when it is not valid UTF-8, or null."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        try:
            raw = bytes(int(b) & 0xFF for b in value)
        except (TypeError, ValueError):
            return ""
        return raw.decode("utf-8", "replace")
    return "" if value is None else str(value)


def entry_unit(entry: dict, units: t.Iterable[str]) -> str | None:
    wanted = set(units)
    for field in _UNIT_FIELDS:
        value = entry.get(field)
        if isinstance(value, str) and value in wanted:
            return value
    return None


def is_error(entry: dict, message: str, klog_errors: bool) -> bool:
    """PRIORITY 0-3 (emerg..err), or with ``klog_errors`` a klog error line (``E1122 05:56:06.18 ...``)."""
    priority = entry.get("PRIORITY")
    if isinstance(priority, str) and priority.isdigit():
        if int(priority) <= 3:
            return True
    elif not klog_errors:
        return True  # journalctl -p err already filtered; an entry without PRIORITY is kept
    return klog_errors and bool(_KLOG_ERROR.match(message))


def parse_journal(text: str | t.Iterable[str], units: list[str], not_before_us: dict[str, int] | None = None,
                  samples: int = 3, klog_errors: bool = False) -> dict[str, dict]:
    """``journalctl -o json`` lines (the output, or its lines as they come) -> per unit ``{"count", "samples", "last"}``.

    Lines that are not JSON objects (a truncated last line, a warning from journalctl) are skipped and counted
    in ``{"_skipped": n}`` under the key ``""``. ``not_before_us`` drops entries older than a per-unit time
    (microseconds since the epoch), so one journal query can serve units inspected at different times.
    """
    result: dict[str, dict] = {unit: {"count": 0, "samples": [], "last": None} for unit in units}
    skipped = 0
    for line in text.splitlines() if isinstance(text, str) else text:
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if not isinstance(entry, dict):
            skipped += 1
            continue
        unit = entry_unit(entry, units)
        if unit is None:
            continue
        stamp = _int_or_none(entry.get("__REALTIME_TIMESTAMP") if isinstance(entry.get("__REALTIME_TIMESTAMP"), str)
                             else None)
        if not_before_us and stamp is not None and stamp < not_before_us.get(unit, 0):
            continue
        message = _message(entry.get("MESSAGE"))[:MAX_SAMPLE_CHARS]
        if not is_error(entry, message, klog_errors):
            continue
        data = result[unit]
        data["count"] += 1
        data["last"] = message
        if len(data["samples"]) < samples:
            data["samples"].append(sample_text(message))
    for data in result.values():
        if data["last"] is not None:
            data["last"] = sample_text(data["last"])
    if skipped:
        result[""] = {"count": 0, "samples": [], "last": None, "skipped_lines": skipped}
    return result


def stream_command(argv: list[str], consume: t.Callable[[t.Iterator[str]], t.Any]) -> tuple[int, t.Any, str]:
    """Run argv and hand its stdout to ``consume`` line by line as it comes; (rc, what consume returned, stderr).

    For the journal: a day of a busy kube-apiserver is hundreds of MB of ``journalctl -o json``, which
    AnsibleModule.run_command collects by appending chunks to one bytes object (quadratic: 137 MB took more than
    seven minutes of CPU on the lab's master); read as a stream it is parsed in the time it takes to read.
    """
    with tempfile.TemporaryFile() as err:
        # Line by line from a pipe, which run_command cannot do; the environment is the module's, in the C locale.
        proc = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
            argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C"))
        try:
            consumed = consume(raw.decode("utf-8", "replace") for raw in proc.stdout)
            for _rest in proc.stdout:   # whatever consume left, so that the process can exit
                pass
        finally:
            proc.stdout.close()
            rc = proc.wait()
        err.seek(0)
        return rc, consumed, err.read(64 * 1024).decode("utf-8", "replace")


# -- findings ---------------------------------------------------------------------------------------------
def restarts_since(restarts: int | None, before: t.Any) -> tuple[int | None, bool]:
    """(automatic restarts to judge, whether they are counted since the last inspection).

    systemd's ``NRestarts`` only grows while the unit stays loaded (a manual restart does not reset it), so a count
    is judged against ``before``, the count the last inspection recorded. A smaller count than ``before`` means
    the unit was loaded again (a reboot) and counts from 0; without a valid ``before`` every restart since the
    unit was loaded counts.
    """
    if restarts is None:
        return None, False
    if isinstance(before, bool) or not isinstance(before, int) or before < 0:
        return restarts, False
    return (restarts - before if before <= restarts else restarts), True


def unit_status(props: dict | None, journal: dict | None, max_restarts: int | None,
                journal_errors_warning: int | None, restarts_before: t.Any = None) -> tuple[str, str]:
    """The handbook's rule for one unit -> (status, summary). ``restarts_before``: its NRestarts at the last
    inspection (None when there was none), so restarts are counted per inspection window, not forever."""
    if props is None:
        return UNKNOWN, "systemctl did not report on this unit"
    load, active, sub = props["load_state"], props["active_state"], props["sub_state"]
    if load == "not-found":
        return CRITICAL, "unit not found"
    if load in ("masked", "error", "bad-setting"):
        return CRITICAL, f"unit {load} (LoadState={load})"
    state = f"{active} ({sub})"
    problems: list[tuple[str, str]] = []
    if active != "active":
        extra = f", result {props['result']}" if props.get("result") not in (None, "success") else ""
        return CRITICAL, f"{state}{extra}; expected active (running)"
    if sub != "running":
        problems.append((WARNING, f"{state}; expected active (running)"))
    restarts, windowed = restarts_since(props.get("restarts"), restarts_before)
    if max_restarts is not None and restarts is not None and restarts > max_restarts:
        window = "since the last inspection" if windowed else "since it was loaded"
        problems.append((WARNING, f"restarted {restarts} times {window} (more than {max_restarts})"))
    count = (journal or {}).get("count", 0)
    if journal_errors_warning is not None and count >= journal_errors_warning and count > 0:
        last = (journal or {}).get("last") or ""
        problems.append((WARNING, f"{count} error log line(s) in the journal, last: {last[:160]}"))
    if not problems:
        return OK, f"{state}, no error logs"
    return worst(p[0] for p in problems), f"{state}; " + "; ".join(p[1] for p in problems)


def unit_findings(units: list[str], props: dict[str, dict], journal: dict[str, dict] | None, category: str,
                  host: str | None, max_restarts: int | None = 3, journal_errors_warning: int | None = 1,
                  journal_note: str | None = None, since: str | None = None,
                  restarts_before: dict | None = None) -> list[dict]:
    if category not in CATEGORIES:
        raise SystemdError(f"category: {category!r} must be one of {', '.join(CATEGORIES)}")
    findings: list[dict] = []
    for unit in units:
        unit_props = props.get(unit)
        unit_journal = (journal or {}).get(unit)
        before = (restarts_before or {}).get(unit)
        status, summary = unit_status(unit_props, unit_journal, max_restarts, journal_errors_warning, before)
        details: dict[str, t.Any] = {"unit": unit, "journal_since": since}
        if unit_props:
            details.update({k: v for k, v in unit_props.items() if k != "id"})
            counted, windowed = restarts_since(unit_props.get("restarts"), before)
            if windowed:
                details["restarts_since_last_inspection"] = counted
        if unit_journal is not None:
            details["journal_errors"] = unit_journal["count"]
            details["journal_samples"] = unit_journal["samples"]
        findings.append(finding(f"{category}.unit", unit.removesuffix(".service"), status, summary, host=host,
                                details=details))
    if journal_note:
        findings.append(finding(f"{category}.journal", "journalctl", UNKNOWN, journal_note, host=host,
                                details={"units": units}))
    return findings


def window_since(units: list[str], state: dict, default_since: str, now: float) -> tuple[str, dict[str, int]]:
    """journalctl ``--since`` covering every unit since its own last inspection, and per-unit cut-offs (µs).

    A unit never inspected before looks back ``default_since``; otherwise the query starts at the oldest last
    inspection among the units and entries are cut per unit afterwards.
    """
    last = state.get("last_inspection") if isinstance(state.get("last_inspection"), dict) else {}
    stamps: dict[str, int] = {}
    for unit in units:
        value = last.get(unit)
        if isinstance(value, (int, float)) and 0 < value <= now:
            stamps[unit] = int(value * 1_000_000)
    if len(stamps) < len(units):
        return default_since, stamps
    return f"@{min(stamps.values()) // 1_000_000}", stamps


def previous_restarts(state: dict) -> dict:
    """NRestarts of each unit at the last inspection (``restarts`` of the state)."""
    value = state.get("restarts")
    return value if isinstance(value, dict) else {}


def updated_state(state: dict, units: list[str], now: float, props: dict[str, dict] | None = None) -> dict:
    """The state after an inspection of ``units`` at ``now``: their inspection time and, from ``props``, their
    restart counts."""
    last = dict(state.get("last_inspection") or {}) if isinstance(state.get("last_inspection"), dict) else {}
    restarts = dict(previous_restarts(state))
    for unit in units:
        last[unit] = now
        count = (props or {}).get(unit, {}).get("restarts")
        if isinstance(count, int):
            restarts[unit] = count
    return {**state, "last_inspection": last, "restarts": restarts}


# -- the check, as systemd_unit_info and host_inspection_info run it ----------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "units": {"type": "list", "elements": "str", "required": True},
    "category": {"type": "str", "choices": list(CATEGORIES), "default": "node_services"},
    "since": {"type": "str"},
    "default_since": {"type": "str", "default": "-24h"},
    "state_file": {"type": "path", "default": "/var/lib/kubeops/systemd_unit_info.json"},
    "max_restarts": {"type": "int", "default": 3},
    "journal_errors_warning": {"type": "int", "default": 1},
    "samples": {"type": "int", "default": 3},
    "klog_errors": {"type": "bool", "default": True},
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """State and error logs of ``params["units"]`` on this host (options: ARGUMENT_SPEC), as findings and facts.

    ``module`` is the running AnsibleModule (``get_bin_path``, ``run_command``, ``check_mode``, ``warn``).
    """
    units = normalize_units(params["units"])
    for option, minimum in (("max_restarts", 0), ("journal_errors_warning", 1), ("samples", 0)):
        if params[option] < minimum:
            raise SystemdError(f"{option}: must be at least {minimum}, got {params[option]}")
    now = time.time()
    props: dict[str, dict] = {}
    show_problem = None
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        show_problem = "systemctl is not installed on this host"
    else:
        rc, out, err = module.run_command(show_command(systemctl, units))
        if rc != 0:
            show_problem = f"systemctl show failed (rc={rc}): {err.strip()[:200]}"
        else:
            try:
                props = match_units(units, parse_show(out))
            except SystemdError as exc:
                show_problem = str(exc)
    state = {} if params["since"] else load_state(params["state_file"])
    if params["since"]:
        since, cutoffs = params["since"], {}
    else:
        since, cutoffs = window_since(units, state, params["default_since"], now)
    journal, note = None, None
    journalctl = module.get_bin_path("journalctl")
    if not journalctl:
        note = "journalctl is not installed on this host: unit states only, no error-log check"
    else:
        try:
            rc, parsed, err = stream_command(
                journal_command(journalctl, units, since, params["klog_errors"]),
                lambda lines: parse_journal(lines, units, cutoffs, params["samples"], params["klog_errors"]))
        except OSError as exc:
            rc, parsed, err = 127, None, str(exc)
        if rc != 0:
            note = f"journalctl failed (rc={rc}): {err.strip()[:200]}; unit states only, no error-log check"
        else:
            journal = parsed
    findings = unit_findings(units, props, journal, params["category"], host, params["max_restarts"],
                             params["journal_errors_warning"], note, since, previous_restarts(state))
    if show_problem:
        findings = [dict(f, summary=show_problem) if f["details"].get("unit") in units and f["details"]["unit"] not in props
                    else f for f in findings]
    facts = {}
    for unit in units:
        facts[unit] = dict(props.get(unit) or {})
        facts[unit].pop("id", None)
        if journal is not None:
            facts[unit]["journal_errors"] = journal[unit]["count"]
            facts[unit]["journal_samples"] = journal[unit]["samples"]
    if not params["since"] and not module.check_mode and props:
        try:
            save_state(params["state_file"], updated_state(state, list(props), now, props))
        except OSError as exc:
            module.warn(f"could not record the inspection time in {params['state_file']}: {exc}")
    return {"findings": findings, "units": facts, "journal_since": since, "journal_available": journal is not None}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    """(finding id, target) of each unit, for an unknown finding when the check could not run."""
    del label
    category = args.get("category") if args.get("category") in CATEGORIES else "node_services"
    units = args.get("units") if isinstance(args.get("units"), list) else [args.get("units") or "systemd"]
    return [(f"{category}.unit", str(unit)) for unit in units]
