# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cordon, drain and uncordon nodes the safe way. PRIVATE to the collection: not a public API.

What ``kubectl drain`` does, with the guards a maintenance runbook needs:

- ``resolve()`` finds the Node of an inventory host by name, by its ``kubernetes.io/hostname`` label or by its
  address (InternalIP or Hostname), since inventories and clusters often name nodes differently; a host that
  matches no Node, or several, is an error, never a guess.
- ``plan_pods()`` sorts a node's pods into those to evict, those left alone (DaemonSet pods, static pod mirrors) and
  those that block the drain (pods using emptyDir without ``delete_emptydir_data``, pods no controller would
  recreate without ``allow_bare_pods``). ``guard()`` refuses before any change: blockers, a control-plane node
  unless allowed, or too few schedulable nodes left for the evicted pods.
- ``drain()`` cordons, then evicts through the Eviction API (``pods/eviction``), so PodDisruptionBudgets are
  honoured: a 429 means the budget allows no disruption now, so it waits and tries again until ``timeout``. A
  drain that does not finish in time raises ``DrainTimeout`` naming the pods that blocked; the nodes stay cordoned.
- ``uncordon()`` waits until the node is Ready, then makes it schedulable again.

Pods and nodes are plain dicts, as ``kubectl get -o json`` prints them. Every eviction carries the pod's UID as a
precondition, so only the pod that was looked at is evicted. ``NodeApi`` is the API boundary.
"""
from __future__ import annotations

import json
import time
import typing as t

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_pods as P
from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._waiter import WaitTimeout, wait_until

STATES = ("drain", "cordon", "uncordon")
HOSTNAME_LABEL = "kubernetes.io/hostname"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
TERMINAL_PHASES = ("Succeeded", "Failed")


class DrainError(Exception):
    """Bad input, or the API refused or could not be reached; the message is for an operator."""


class DrainRefused(DrainError):
    """A guard said no; nothing was changed."""


class DrainFailed(DrainError):
    """Something was changed (cordoned, evicted) and then the run failed; carries the partial result."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


class Options(t.NamedTuple):
    nodes: tuple[dict, ...]
    state: str = "drain"
    delete_emptydir_data: bool = False
    allow_bare_pods: bool = False
    allow_control_plane: bool = False
    min_remaining_nodes: int = 1
    timeout: int = 300
    grace_period: int | None = None
    interval: float = 2.0
    assume_cordoned: tuple[dict, ...] = ()


def validate(opts: Options) -> None:
    if opts.state not in STATES:
        raise DrainError(f"state {opts.state!r} must be one of {', '.join(STATES)}")
    if not opts.nodes:
        raise DrainError("nodes must name at least one node")
    for item in opts.nodes:
        if not isinstance(item, t.Mapping) or not str(item.get("name") or "").strip():
            raise DrainError(f"each of nodes needs a name, got {item!r}")
    names = [str(item["name"]) for item in opts.nodes]
    if len(set(names)) != len(names):
        raise DrainError(f"nodes lists a node twice: {names!r}")
    for option in ("min_remaining_nodes", "timeout"):
        value = getattr(opts, option)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DrainError(f"{option} must be 0 or more, got {value!r}")
    if opts.grace_period is not None and opts.grace_period < 0:
        raise DrainError(f"grace_period must be 0 or more seconds, got {opts.grace_period}")


# -- nodes ----------------------------------------------------------------------------------------------------
def node_name(node: dict) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def addresses(node: dict) -> list[str]:
    """The node's InternalIP and Hostname addresses."""
    return [str(a.get("address")) for a in (node.get("status") or {}).get("addresses") or []
            if isinstance(a, dict) and a.get("type") in ("InternalIP", "Hostname") and a.get("address")]


def is_ready(node: dict) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def is_cordoned(node: dict) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def is_control_plane(node: dict) -> bool:
    """Labelled or tainted as a control-plane (or master) node."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    taints = [tn.get("key") for tn in (node.get("spec") or {}).get("taints") or [] if isinstance(tn, dict)]
    return any(key in labels or key in taints for key in CONTROL_PLANE_LABELS)


def resolve(nodes: list[dict], wanted: t.Sequence[t.Mapping]) -> list[dict]:
    """Each wanted ``{name, address}`` (an inventory host) as ``{host, node, by}``: the Node named ``name``, else the
    Node whose hostname label is ``name``, else the Node with ``address`` (or ``name``) among its addresses."""
    resolved: list[dict] = []
    for item in wanted:
        host = str(item["name"]).strip()
        address = str(item.get("address") or "").strip() or None
        found: list[dict] = []
        how = ""
        for how, match in (
                ("name", lambda n: node_name(n) == host),
                ("hostname label", lambda n: ((n.get("metadata") or {}).get("labels") or {}).get(HOSTNAME_LABEL) == host),
                ("address", lambda n: any(a in (host, address) for a in addresses(n)))):
            found = [n for n in nodes if match(n)]
            if found:
                break
        if not found:
            raise DrainError(f"no Node matches inventory host {host}" + (f" (address {address})" if address else "")
                             + " by name, kubernetes.io/hostname label or address")
        if len(found) > 1:
            raise DrainRefused(f"inventory host {host} matches {len(found)} Nodes by {how} "
                               f"({', '.join(sorted(node_name(n) for n in found))}); refusing to guess which")
        resolved.append({"host": host, "node": node_name(found[0]), "by": how})
    twice = sorted({r["node"] for r in resolved if sum(1 for o in resolved if o["node"] == r["node"]) > 1})
    if twice:
        raise DrainError(f"several inventory hosts resolve to the same Node {', '.join(twice)}: "
                         f"{', '.join(r['host'] for r in resolved if r['node'] in twice)}")
    return resolved


# -- pods -----------------------------------------------------------------------------------------------------
def selector_matches(selector: t.Any, labels: t.Mapping) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels. An empty selector matches everything,
    a missing one nothing (as a PodDisruptionBudget of policy/v1 reads them)."""
    if selector is None:
        return False
    if not isinstance(selector, t.Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def budgets_of(pod: dict, pdbs: list[dict]) -> list[dict]:
    """The PodDisruptionBudgets that cover ``pod``: name and how many disruptions they allow now."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    out = []
    for pdb in pdbs:
        pmeta = pdb.get("metadata") or {}
        if pmeta.get("namespace") != meta.get("namespace"):
            continue
        if selector_matches((pdb.get("spec") or {}).get("selector"), labels):
            status = pdb.get("status") or {}
            out.append({"name": f"{pmeta.get('namespace')}/{pmeta.get('name')}",
                        "disruptions_allowed": int(status.get("disruptionsAllowed") or 0),
                        "current_healthy": int(status.get("currentHealthy") or 0),
                        "desired_healthy": int(status.get("desiredHealthy") or 0)})
    return sorted(out, key=lambda b: b["name"])


def uses_emptydir(pod: dict) -> list[str]:
    return [str(v.get("name")) for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v, dict) and "emptyDir" in v]


def classify(pod: dict, delete_emptydir_data: bool = False, allow_bare_pods: bool = False) -> tuple[str, str]:
    """(kind, why): kind is ``evict``, ``skip`` (left alone), ``block`` (stops the drain) or ``terminating``."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    owner = P.controller_of(pod)
    if P.is_mirror(pod):
        return "skip", "static pod mirror (the kubelet owns it)"
    if owner and owner.get("kind") == "DaemonSet":
        return "skip", f"DaemonSet pod ({owner.get('name')})"
    if meta.get("deletionTimestamp"):
        return "terminating", "being deleted"
    if status.get("phase") in TERMINAL_PHASES:
        return "evict", f"finished ({status.get('phase')})"
    volumes = uses_emptydir(pod)
    if volumes and not delete_emptydir_data:
        return "block", (f"uses emptyDir {', '.join(volumes)} (local data lost on eviction); "
                         f"set delete_emptydir_data to evict it")
    if owner is None and not allow_bare_pods:
        return "block", "no controller would recreate it; set allow_bare_pods to evict it"
    why = f"{owner['kind']} {owner['name']}" if owner else "bare pod (allow_bare_pods)"
    return "evict", why + (f", emptyDir {', '.join(volumes)} deleted" if volumes else "")


def pod_line(pod: dict) -> dict:
    """What an operator sees of a pod in a plan, a result or an audit line."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "uid": P.uid(pod), "node": P.node_of(pod),
            "phase": status.get("phase"), "owner": P.controller_of(pod)}


def plan_pods(pods: list[dict], pdbs: list[dict], delete_emptydir_data: bool = False,
              allow_bare_pods: bool = False) -> dict:
    """{evict, skipped, blockers, terminating}: lists of pod lines with ``why`` (and ``budgets`` for evictions)."""
    plan: dict[str, list] = {"evict": [], "skipped": [], "blockers": [], "terminating": []}
    for pod in sorted(pods, key=P.key):
        kind, why = classify(pod, delete_emptydir_data, allow_bare_pods)
        line = {**pod_line(pod), "why": why}
        if kind == "evict":
            plan["evict"].append({**line, "budgets": budgets_of(pod, pdbs)})
        else:
            plan[{"skip": "skipped", "block": "blockers", "terminating": "terminating"}[kind]].append(line)
    return plan


def guard(opts: Options, targets: list[dict], nodes: list[dict], plans: dict[str, dict],
          also_cordoned: t.Collection[str] = ()) -> None:
    """Refuse before any change: control-plane nodes, pods that block, too few schedulable nodes left (counting
    ``also_cordoned`` as cordoned, e.g. the waves a drain cordons before this one)."""
    by_name = {node_name(n): n for n in nodes}
    if not opts.allow_control_plane and opts.state != "uncordon":
        masters = [t_["node"] for t_ in targets if is_control_plane(by_name[t_["node"]])]
        if masters:
            raise DrainRefused(f"{', '.join(masters)} {'is a control-plane node' if len(masters) == 1 else 'are control-plane nodes'}; "
                               f"refusing to {opts.state} it (set allow_control_plane=true if that is really meant)")
    if opts.state == "drain":
        blockers = [f"{b['namespace']}/{b['name']} on {b['node']}: {b['why']}" for plan in plans.values()
                    for b in plan["blockers"]]
        if blockers:
            raise DrainRefused(f"refusing to drain: {len(blockers)} pod(s) cannot be evicted: {'; '.join(blockers[:5])}"
                               + (f" and {len(blockers) - 5} more" if len(blockers) > 5 else ""))
    if opts.state in ("drain", "cordon") and opts.min_remaining_nodes:
        wave = {t_["node"] for t_ in targets}
        left = sorted(node_name(n) for n in nodes if node_name(n) not in wave and node_name(n) not in also_cordoned
                      and is_ready(n) and not is_cordoned(n) and not is_control_plane(n))
        if len(left) < opts.min_remaining_nodes:
            raise DrainRefused(f"cordoning {', '.join(sorted(wave))} would leave {len(left)} schedulable Ready worker "
                               f"node(s) ({', '.join(left) or 'none'}), fewer than min_remaining_nodes="
                               f"{opts.min_remaining_nodes}; the evicted pods would have nowhere to go; refusing")


# -- the Eviction API's answers -------------------------------------------------------------------------------
def _status_text(body: t.Any) -> tuple[str, list[str]]:
    """(message, cause messages) of a Kubernetes Status body (bytes, str or dict)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return " ".join(body.split())[:300], []
    if not isinstance(body, dict):
        return "", []
    causes = [str(c.get("message") or c.get("reason")) for c in (body.get("details") or {}).get("causes") or []
              if isinstance(c, dict)]
    return str(body.get("message") or body.get("reason") or ""), causes


def eviction_outcome(status: int, body: t.Any) -> tuple[str, str]:
    """(outcome, why) of one eviction request from its HTTP status and body.

    ``evicted`` (201/200), ``blocked`` (429: a PodDisruptionBudget allows no disruption now - wait and retry),
    ``gone`` (404), ``replaced`` (409: the UID precondition failed, the name belongs to another pod now) and
    ``failed`` (anything else, such as 500 when several budgets cover the pod).
    """
    message, causes = _status_text(body)
    why = message + (f" ({'; '.join(causes)})" if causes else "")
    if status in (200, 201):
        return "evicted", why or "evicted"
    if status == 429:
        return "blocked", why or "TooManyRequests: a PodDisruptionBudget allows no disruption now"
    if status == 404:
        return "gone", why or "not found"
    if status == 409:
        return "replaced", why or "conflict"
    return "failed", f"HTTP {status}: {why or 'no message'}"


def eviction_body(pod: dict, grace_period: int | None = None) -> dict:
    meta = pod.get("metadata") or {}
    options: dict[str, t.Any] = {"preconditions": {"uid": P.uid(pod)}}
    if grace_period is not None:
        options["gracePeriodSeconds"] = grace_period
    return {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")}, "deleteOptions": options}


# -- the API boundary -----------------------------------------------------------------------------------------
class NodeApi:
    """Nodes, the pods on them, PodDisruptionBudgets, cordon and eviction, through the official client."""

    def __init__(self, api_client: t.Any, timeout: float = 30):
        self.api_client = api_client
        self.timeout = float(timeout)
        self.requests = 0

    def _host(self) -> str | None:
        return getattr(getattr(self.api_client, "configuration", None), "host", None)

    def _list(self, kind: str, field_selector: str | None = None) -> list[dict]:
        try:
            result = _k8s.list_all(self.api_client, kind, timeout=self.timeout, field_selector=field_selector)
        except _k8s.K8sError as exc:
            raise DrainError(str(exc)) from exc
        self.requests += result.requests
        return result.items

    def list_nodes(self) -> list[dict]:
        return self._list("nodes")

    def list_pods_on(self, node: str) -> list[dict]:
        return self._list("pods", field_selector=f"spec.nodeName={node}")

    def list_pdbs(self) -> list[dict]:
        return self._list("poddisruptionbudgets")

    def read_node(self, name: str) -> dict:
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        self.requests += 1
        try:
            response = k8s_client.CoreV1Api(self.api_client).read_node(
                name, _preload_content=False, _request_timeout=_k8s.request_timeout(self.timeout))
            return json.loads(response.data)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            raise DrainError(f"cannot read Node {name}: {_k8s.describe_error(exc, self._host())}") from exc

    def set_unschedulable(self, name: str, value: bool) -> None:
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        self.requests += 1
        try:
            k8s_client.CoreV1Api(self.api_client).patch_node(
                name, {"spec": {"unschedulable": value or None}}, _preload_content=False,
                _request_timeout=_k8s.request_timeout(self.timeout))
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            verb = "cordon" if value else "uncordon"
            raise DrainError(f"cannot {verb} Node {name}: {_k8s.describe_error(exc, self._host())}") from exc

    def evict(self, pod: dict, grace_period: int | None = None) -> tuple[int, t.Any]:
        """POST pods/eviction; (HTTP status, body). Errors other than HTTP answers raise DrainError."""
        from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
        meta = pod.get("metadata") or {}
        self.requests += 1
        try:
            response = k8s_client.CoreV1Api(self.api_client).create_namespaced_pod_eviction(
                meta.get("name"), meta.get("namespace"), eviction_body(pod, grace_period), _preload_content=False,
                _request_timeout=_k8s.request_timeout(self.timeout))
            return int(response.status), response.data
        except Exception as exc:  # pylint: disable=broad-exception-caught  # ApiException, urllib3 and socket errors
            status = getattr(exc, "status", None)
            if isinstance(status, int) and status > 0:
                return status, getattr(exc, "body", None)
            raise DrainError(f"cannot evict pod {P.key(pod)}: {_k8s.describe_error(exc, self._host())}") from exc


# -- the runs -------------------------------------------------------------------------------------------------
def _targets(api: NodeApi, opts: Options) -> tuple[list[dict], list[dict]]:
    nodes = api.list_nodes()
    return resolve(nodes, opts.nodes), nodes


def _cordon_record(node: str, cordon: bool, host: str) -> dict:
    return record("cordon" if cordon else "uncordon", node, {"unschedulable": not cordon}, {"unschedulable": cordon},
                  inventory_host=host)


def run(api: NodeApi, opts: Options, check_mode: bool, clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep) -> dict:
    """Plan, guard, then (unless in check mode) cordon + evict, cordon, or uncordon. Returns the module result."""
    validate(opts)
    targets, nodes = _targets(api, opts)
    also_cordoned = {r["node"] for r in resolve(nodes, opts.assume_cordoned)} if opts.assume_cordoned else set()
    by_name = {node_name(n): n for n in nodes}
    pdbs = api.list_pdbs() if opts.state == "drain" else []
    plans = {tg["node"]: plan_pods(api.list_pods_on(tg["node"]), pdbs, opts.delete_emptydir_data, opts.allow_bare_pods)
             for tg in targets} if opts.state == "drain" else {}
    guard(opts, targets, nodes, plans, also_cordoned)
    result: dict[str, t.Any] = {
        "changed": False, "nodes": [], "evicted": [], "skipped": [], "blocked": [], "audit": [], "seconds": 0.0,
        "plan": [{"host": tg["host"], "node": tg["node"], "by": tg["by"],
                  "evict": plans.get(tg["node"], {}).get("evict", []),
                  "skipped": plans.get(tg["node"], {}).get("skipped", []),
                  "terminating": plans.get(tg["node"], {}).get("terminating", [])} for tg in targets],
    }
    started = clock()
    want_cordoned = opts.state != "uncordon"
    for tg in targets:
        node = by_name[tg["node"]]
        result["nodes"].append({"host": tg["host"], "node": tg["node"], "by": tg["by"], "ready": is_ready(node),
                                "unschedulable_before": is_cordoned(node), "unschedulable": is_cordoned(node)})
    result["skipped"] = [s for plan in plans.values() for s in plan["skipped"]]
    if opts.state == "uncordon":
        _uncordon(api, opts, check_mode, result, by_name, clock, sleep)
    else:
        for entry in result["nodes"]:
            if entry["unschedulable"]:
                continue
            if not check_mode:
                try:
                    api.set_unschedulable(entry["node"], True)
                except DrainError as exc:
                    raise DrainFailed(str(exc), _finish(result, clock, started)) from exc
            result["changed"] = True
            result["audit"].append(_cordon_record(entry["node"], True, entry["host"]))
            entry["unschedulable"] = True
        if opts.state == "drain":
            if check_mode:
                for plan in plans.values():
                    for pod in plan["evict"]:
                        result["changed"] = True
                        result["evicted"].append({**pod, "outcome": "would evict"})
                        result["audit"].append(_evict_record(pod, "would evict"))
            else:
                _evict_all(api, opts, result, [tg["node"] for tg in targets], clock, sleep)
    result["diff"] = {
        "before": {e["node"]: {"unschedulable": e["unschedulable_before"],
                               "pods": sorted(f"{p['namespace']}/{p['name']}" for p in plans.get(e["node"], {}).get("evict", []))}
                   for e in result["nodes"]},
        "after": {e["node"]: {"unschedulable": e["unschedulable"], "pods": []} for e in result["nodes"]},
    }
    return _finish(result, clock, started)


def _finish(result: dict, clock: t.Callable[[], float], started: float) -> dict:
    result["seconds"] = round(clock() - started, 1)
    result["lines"] = plan_lines(result["plan"])
    return result


def plan_lines(plan: list[dict]) -> list[str]:
    """One line per node for an operator: which pods go (and the budgets that cover them), which stay."""
    lines = []
    for node in plan:
        name = node["host"] + (f" (Node {node['node']}, by {node['by']})" if node["node"] != node["host"] else "")
        pods = [f"{p['namespace']}/{p['name']}" for p in node["evict"]]
        text = f"{name}: " + (f"evict {len(pods)} pod(s): {', '.join(pods)}" if pods else "no pod to evict")
        budgets = sorted({f"{b['name']} (allows {b['disruptions_allowed']} now)" for p in node["evict"] for b in p["budgets"]})
        if budgets:
            text += f" - budgets: {', '.join(budgets)}"
        if node["skipped"]:
            text += " - left alone: " + ", ".join(f"{p['namespace']}/{p['name']}" for p in node["skipped"])
        lines.append(text)
    return lines


def _evict_record(pod: dict, outcome: str) -> dict:
    return record("evict", f"{pod['namespace']}/{pod['name']}",
                  {"node": pod["node"], "phase": pod["phase"], "uid": pod["uid"], "owner": pod["owner"]},
                  {"evicted": outcome == "evicted"} if outcome != "would evict" else {"evicted": True},
                  why=pod.get("why"), budgets=[b["name"] for b in pod.get("budgets") or []])


def _evict_all(api: NodeApi, opts: Options, result: dict, node_names: list[str], clock: t.Callable[[], float],
               sleep: t.Callable[[float], None]) -> None:
    """Evict until no pod that must go is left on the nodes, retrying what a PodDisruptionBudget blocks."""
    started = clock()
    evicted: dict[str, dict] = {}
    state: dict[str, t.Any] = {"remaining": []}

    def attempt() -> bool:
        remaining: list[dict] = []
        for name in node_names:
            for pod in sorted(api.list_pods_on(name), key=P.key):
                kind, why = classify(pod, opts.delete_emptydir_data, opts.allow_bare_pods)
                if kind == "skip":
                    continue
                line = pod_line(pod)
                if P.uid(pod) in evicted or kind == "terminating":
                    remaining.append({**line, "why": "evicted, still terminating" if P.uid(pod) in evicted else why})
                    continue
                if kind == "block":
                    remaining.append({**line, "why": why})
                    continue
                status, body = api.evict(pod, opts.grace_period)
                outcome, text = eviction_outcome(status, body)
                if outcome == "gone":
                    continue
                if outcome == "evicted":
                    item = {**line, "why": why, "outcome": "evicted", "seconds": round(clock() - started, 1)}
                    evicted[P.uid(pod)] = item
                    result["evicted"].append(item)
                    result["audit"].append(_evict_record(item, "evicted"))
                    result["changed"] = True
                    remaining.append({**line, "why": "evicted, still terminating"})
                elif outcome in ("blocked", "replaced"):
                    remaining.append({**line, "why": text if outcome == "blocked" else f"changed while evicting: {text}"})
                else:
                    raise DrainFailed(f"cannot evict pod {P.key(pod)} from {line['node']}: {text}; "
                                      f"{', '.join(node_names)} stay cordoned", result)
        state["remaining"] = remaining
        return not remaining

    try:
        wait_until(attempt, opts.timeout, opts.interval, clock=clock, sleep=sleep)
    except WaitTimeout as exc:
        left = state["remaining"]
        result["blocked"] = left
        names = "; ".join(f"{p['namespace']}/{p['name']} on {p['node']} ({p['why']})" for p in left[:8])
        more = f" and {len(left) - 8} more" if len(left) > 8 else ""
        raise DrainFailed(f"drain of {', '.join(node_names)} not finished after {opts.timeout}s: {len(left)} pod(s) "
                          f"still there: {names}{more}; {', '.join(node_names)} stay cordoned", result) from exc
    except DrainError as exc:
        if isinstance(exc, DrainFailed):
            raise
        raise DrainFailed(f"{exc}; {', '.join(node_names)} stay cordoned", result) from exc


def _uncordon(api: NodeApi, opts: Options, check_mode: bool, result: dict, by_name: dict[str, dict],
              clock: t.Callable[[], float], sleep: t.Callable[[float], None]) -> None:
    """Wait until every node is Ready (a NotReady node stays cordoned), then make the cordoned ones schedulable."""
    entries = [e for e in result["nodes"] if e["unschedulable"]]
    if not check_mode and entries and not all(e["ready"] for e in entries):
        latest: dict[str, dict] = {}

        def all_ready() -> bool:
            for entry in entries:
                latest[entry["node"]] = api.read_node(entry["node"])
            return all(is_ready(n) for n in latest.values())

        try:
            wait_until(all_ready, opts.timeout, opts.interval, clock=clock, sleep=sleep)
        except WaitTimeout as exc:
            waiting = sorted(n for n, node in latest.items() if not is_ready(node))
            raise DrainRefused(f"{', '.join(waiting)} not Ready after {opts.timeout}s; left cordoned (uncordon it once "
                               f"it is Ready)") from exc
        except DrainError as exc:
            raise DrainRefused(f"{exc}; the nodes are left cordoned") from exc
        for entry in entries:
            entry["ready"] = True
    for entry in entries:
        if not check_mode:
            try:
                api.set_unschedulable(entry["node"], False)
            except DrainError as exc:
                raise DrainFailed(str(exc), result) from exc
        result["changed"] = True
        result["audit"].append(_cordon_record(entry["node"], False, entry["host"]))
        entry["unschedulable"] = False
