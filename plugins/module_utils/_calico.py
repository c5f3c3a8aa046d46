# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""calico BGP state from ``birdcl show protocols [all]`` or ``calicoctl node status``. PRIVATE to the collection.

Parsers are pure (text -> list of dicts) and raise only CalicoError; ``bgp_findings()`` turns peers into
``calico.bgp_peer`` findings for both ends of each session.
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import CRITICAL, OK, finding

# BIRD 1.6 protocol row: name proto table state since info; 'since' is a time, a date, or both.
_ROW = re.compile(
    r"^(?P<name>\S+)\s+(?P<proto>\S+)\s+(?P<table>\S+)\s+(?P<state>up|down|start|stop|feed|flush)\s+"
    r"(?P<since>(?:\d{4}-\d{2}-\d{2}(?:\s+\d{2}:\d{2}:\d{2})?|\d{2}:\d{2}(?::\d{2})?|\S+))(?:\s+(?P<info>.*?))?\s*$")
_MESH_NAME = re.compile(r"^(?:Mesh|Node|Global)_(\d+)_(\d+)_(\d+)_(\d+)(?:_port_\d+)?$")
_NEIGHBOR = re.compile(r"^\s+Neighbor address:\s*(\S+)")
_CALICOCTL_ROW = re.compile(r"^\|\s*(?P<addr>[0-9A-Fa-f.:]+)\s*\|\s*(?P<type>[^|]+?)\s*\|\s*(?P<state>\S+)\s*\|"
                            r"\s*(?P<since>[^|]*?)\s*\|\s*(?P<info>[^|]*?)\s*\|\s*$")


class CalicoError(ValueError):
    """BIRD / calicoctl output could not be understood, or the daemon could not be asked."""


def _text(output: str | bytes) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", errors="replace")
    if not isinstance(output, str):
        raise CalicoError(f"expected text output, got {type(output).__name__}")
    return output


def peer_address_from_name(name: str) -> str | None:
    """calico's BIRD protocol names encode the peer IP: Mesh_198_18_0_21 -> 198.18.0.21."""
    match = _MESH_NAME.match(name)
    return ".".join(match.groups()) if match else None


def parse_bird_protocols(output: str | bytes) -> list[dict]:
    """Rows of ``birdcl show protocols`` (and the blocks of ``show protocols all``) as dicts.

    Keys: name, proto, table, state, since, info, established (BGP only meaningful), neighbor.
    """
    text = _text(output)
    lines = text.splitlines()
    header_seen = False
    protocols: list[dict] = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("BIRD ") and "ready" in line:
            continue
        if re.match(r"^\s*name\s+proto\s+table\s+state\s+since\s+info", line):
            header_seen = True
            continue
        if line[0].isspace():
            neighbor = _NEIGHBOR.match(line)
            if neighbor and protocols:
                protocols[-1]["neighbor"] = neighbor.group(1)
            continue
        row = _ROW.match(line)
        if not row:
            if header_seen:
                continue  # e.g. "Preference: 100" printed flush left by some builds
            raise CalicoError(f"not a BIRD protocols table: {line[:120]!r}")
        item = {k: (v or "") for k, v in row.groupdict().items()}
        item["info"] = " ".join(item["info"].split())
        item["established"] = item["state"] == "up" and item["info"].startswith("Established")
        item["neighbor"] = peer_address_from_name(item["name"])
        protocols.append(item)
    if not header_seen and not protocols:
        raise CalicoError(f"no BIRD protocols table in the output: {text[:200]!r}")
    return protocols


def bgp_peers_from_bird(protocols: list[dict]) -> list[dict]:
    """The BGP sessions among BIRD protocols: address, name, state, info, since, established."""
    peers = []
    for proto in protocols:
        if proto.get("proto") != "BGP":
            continue
        peers.append({"address": proto.get("neighbor") or proto["name"], "name": proto["name"],
                      "state": proto["state"], "info": proto["info"], "since": proto["since"],
                      "established": proto["established"]})
    return peers


def parse_calicoctl_status(output: str | bytes) -> list[dict]:
    """Peers of ``calicoctl node status`` (IPv4 and IPv6 tables)."""
    text = _text(output)
    if "Calico process is not running" in text:
        raise CalicoError("calicoctl: Calico process is not running")
    peers = []
    for line in text.splitlines():
        match = _CALICOCTL_ROW.match(line.strip())
        if not match or match.group("addr").upper() == "PEER ADDRESS":
            continue
        info = " ".join(match.group("info").split())
        state = match.group("state")
        peers.append({"address": match.group("addr"), "name": match.group("type"), "state": state,
                      "info": info, "since": match.group("since"),
                      "established": state == "up" and info.startswith("Established")})
    if not peers and "BGP status" not in text:
        raise CalicoError(f"not calicoctl node status output: {text[:200]!r}")
    return peers


def classify_birdcl_failure(rc: int, output: str) -> str:
    """Why birdcl failed, in words: the daemon is down, the socket is missing, or permission."""
    text = (output or "").strip()
    if "No such file or directory" in text:
        return f"BIRD control socket missing (BIRD not running?): {text.splitlines()[0][:200]}"
    if "Connection refused" in text:
        return f"BIRD is not answering on its control socket: {text.splitlines()[0][:200]}"
    if "Permission denied" in text:
        return f"permission denied on the BIRD control socket: {text.splitlines()[0][:200]}"
    return f"birdcl exited {rc}: {text[:200]}"


def bgp_findings(peers: list[dict], host: str, local_address: str | None = None,
                 peer_hosts: dict | None = None, source: str = "birdcl") -> list[dict]:
    """calico.bgp_peer for each session: on this host, and for a broken session also for the peer's host."""
    peer_hosts = peer_hosts or {}
    findings = []
    for peer in peers:
        address = peer["address"]
        peer_host = peer_hosts.get(address)
        label = f"{peer_host} ({address})" if peer_host else address
        details = {**peer, "peer_host": peer_host, "source": source}
        if peer["established"]:
            findings.append(finding("calico.bgp_peer", address, OK, f"BGP session with {label} Established",
                                    host=host, details=details))
            continue
        what = f"{peer['state']} {peer['info']}".strip()
        findings.append(finding("calico.bgp_peer", address, CRITICAL, f"BGP session with {label} not Established: {what}",
                                host=host, details=details))
        if peer_host and peer_host != host:
            me = local_address or host
            findings.append(finding("calico.bgp_peer", me, CRITICAL,
                                    f"BGP session from {host} ({me}) not Established: {what}",
                                    host=peer_host, details={**details, "reported_by": host}))
    return findings


def run_bgp_check(run: t.Callable[[list[str]], tuple[int, str, str]], host: str, socket: str,
                  birdcl: str | None, calicoctl: str | None, local_address: str | None = None,
                  peer_hosts: dict | None = None) -> tuple[list[dict], list[dict], str]:
    """Ask calicoctl (when there) else birdcl; return (peers, findings, source). ``run`` is the process boundary."""
    errors = []
    if calicoctl:
        rc, out, err = run([calicoctl, "node", "status"])
        if rc == 0:
            try:
                peers = parse_calicoctl_status(out)
                return peers, bgp_findings(peers, host, local_address, peer_hosts, "calicoctl"), "calicoctl"
            except CalicoError as exc:
                errors.append(str(exc))
        else:
            errors.append(f"calicoctl node status exited {rc}: {(err or out).strip()[:200]}")
    if not birdcl:
        why = "; ".join(errors + ["neither calicoctl nor birdcl found"]) if calicoctl else "birdcl not found"
        return [], [finding("calico.bird", host, "unknown", f"cannot read BGP state: {why}", host=host)], "none"
    rc, out, err = run([birdcl, "-s", socket, "show", "protocols", "all"])
    combined = f"{out}\n{err}".strip()
    if rc != 0 or "Unable to connect" in combined:
        return [], [finding("calico.bird", host, CRITICAL, classify_birdcl_failure(rc, combined), host=host,
                            details={"socket": socket, "rc": rc})], "birdcl"
    peers = bgp_peers_from_bird(parse_bird_protocols(out))
    result = [finding("calico.bird", host, OK, f"BIRD answers on {socket}: {len(peers)} BGP sessions", host=host,
                      details={"socket": socket})]
    return peers, result + bgp_findings(peers, host, local_address, peer_hosts, "birdcl"), "birdcl"


# -- the check, as calico_bgp_info and host_inspection_info run it ------------------------------------------
ARGUMENT_SPEC: dict[str, dict] = {
    "socket": {"type": "path", "default": "/var/run/calico/bird.ctl"},
    "birdcl_path": {"type": "str", "default": "birdcl"},
    "calicoctl_path": {"type": "str", "default": "calicoctl"},
    "host_name": {"type": "str", "required": True},
    "local_address": {"type": "str"},
    "peer_hosts": {"type": "dict", "default": {}},
}


def inspect(module: t.Any, params: dict, host: str | None) -> dict:
    """This host's BGP sessions (options: ARGUMENT_SPEC). The findings carry their own host labels: this host's
    (``host_name``), and the peer's host for the peer's end of a broken session."""
    del host
    birdcl = module.get_bin_path(params["birdcl_path"], opt_dirs=["/usr/sbin", "/usr/local/sbin"]) \
        if params["birdcl_path"] else None
    calicoctl = module.get_bin_path(params["calicoctl_path"], opt_dirs=["/usr/local/bin", "/opt/cni/bin"]) \
        if params["calicoctl_path"] else None

    def run(argv: list[str]) -> tuple[int, str, str]:
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    try:
        peers, findings, source = run_bgp_check(run, params["host_name"], params["socket"], birdcl, calicoctl,
                                                params["local_address"], params["peer_hosts"])
    except CalicoError as exc:
        raise CalicoError(f"cannot understand the BGP state on {params['host_name']}: {exc}") from None
    return {"findings": findings, "peers": peers, "source": source}


def failure_targets(args: dict, label: str | None) -> list[tuple[str, str]]:
    return [("calico.bird", str(args.get("host_name") or label))]
