"""One cause first (plugins/plugin_utils/_causes.py): the findings that follow from a host that is down or a Node
NotReady are marked caused_by their root and shown under it in the report; nothing is removed or recounted."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils._findings import finding, finding_key, summarize
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _causes as C
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _report as R

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = str(ROOT / "roles" / "report" / "templates")

# the handbook's naming: inventory names k8snodeNN, Node names worker-N, addresses 10.0.0.x
DOWN = finding("host.reachable", "k8snode02", "critical", "host unreachable: none of its checks ran", host="k8snode02",
               details={"reason": "unreachable", "error": "ssh: connect to host 10.0.0.22 port 22: Connection timed out"})
ADDRESSES = {"k8snode01": ["10.0.0.21"], "k8snode02": ["10.0.0.22"], "k8snode03": ["10.0.0.23"]}


def pod(name: str, node: str, host: str, owner: str | None, labels: dict, status: str = "warning") -> dict:
    return finding("pods.ready", f"product/{name}", status, "not Ready", host=host,
                   details={"phase": "Running", "ready": "0/1", "node": node, "owner": owner, "labels": labels})


def fleet() -> list[dict]:
    return [
        DOWN,
        finding("host.reachable", "k8snode01", "ok", "host answered", host="k8snode01"),
        finding("nodes.ready", "worker-2", "critical", "NotReady (NodeStatusUnknown)", host="k8snode02",
                details={"ready": "Unknown"}),
        finding("nodes.ready", "worker-1", "ok", "Ready", host="k8snode01", details={"ready": "True"}),
        pod("oltp-db-0", "worker-2", "k8snode02", "StatefulSet/oltp-db", {"app": "oltp-db"}),
        finding("statefulsets.replicas", "product/oltp-db", "critical", "0 of 1 ready",
                details={"desired": 1, "ready": 0}),
        finding("services.endpoints", "product/oltp-db", "critical", "no ready address",
                details={"selector": {"app": "oltp-db"}, "ready_addresses": 0}),
        finding("calico.bgp_peer", "10.0.0.22", "critical", "session Connect", host="k8snode01",
                details={"address": "10.0.0.22", "peer_host": "k8snode02", "established": False}),
        finding("calico.bgp_peer", "10.0.0.22", "critical", "session Active", host="k8smaster01",
                details={"address": "10.0.0.22", "established": False}),
        finding("etcd.member", "etcd-2", "critical", "member down at https://10.0.0.22:2379", host=None,
                details={"client_urls": ["https://10.0.0.22:2379"], "peer_urls": ["https://10.0.0.22:2380"]}),
        finding("etcd.quorum", "cluster", "warning", "quorum held by 2 of 3 members",
                details={"members": 3, "healthy": 2, "quorum": 2}),
        # not from node2: another node's disk, a pod on worker-1, a session between two hosts that are up
        finding("disk.space", "/data", "critical", "97% used", host="k8snode01"),
        pod("ihs-conclude-1-3-0-abc-x", "worker-1", "k8snode01", "Deployment/ihs-conclude-1-3-0", {"app": "ihs"}),
        finding("calico.bgp_peer", "10.0.0.21", "critical", "session Idle", host="k8smaster01",
                details={"address": "10.0.0.21", "established": False}),
    ]


def by_key(findings: list[dict]) -> dict[str, dict]:
    return {finding_key(f): f for f in findings}


def test_what_follows_from_a_host_that_is_down():
    marked = by_key(C.attribute(fleet(), ADDRESSES))
    root = finding_key(DOWN)
    followers = sorted(k for k, f in marked.items() if f.get("caused_by") == root)
    assert followers == sorted([
        "nodes.ready:worker-2@k8snode02",                    # its Node, by the Node name the cluster check mapped
        "pods.ready:product/oltp-db-0@k8snode02",            # its pod
        "statefulsets.replicas:product/oltp-db",             # the workload whose one missing pod is there
        "services.endpoints:product/oltp-db",                # the Service that selects only that pod
        "calico.bgp_peer:10.0.0.22@k8snode01",               # the BGP sessions to its address
        "calico.bgp_peer:10.0.0.22@k8smaster01",
        "etcd.member:etcd-2",                                # its etcd member, by its URLs
        "etcd.quorum:cluster",                               # the quorum warning: that one member is the unhealthy one
    ])
    assert marked[root]["consequences"] == 8
    # the others stay where they were
    for key in ("disk.space:/data@k8snode01", "pods.ready:product/ihs-conclude-1-3-0-abc-x@k8snode01",
                "calico.bgp_peer:10.0.0.21@k8smaster01"):
        assert "caused_by" not in marked[key], key


def test_the_json_keeps_every_finding_and_status():
    original = fleet()
    before = copy.deepcopy(original)
    marked = C.attribute(original, ADDRESSES)
    assert original == before                                 # copies, not edits of the input
    assert [finding_key(f) for f in marked] == [finding_key(f) for f in original]
    assert summarize(marked) == summarize(original)
    for old, new in zip(original, marked):
        assert {k: v for k, v in new.items() if k not in ("caused_by", "consequences")} == old


def test_without_addresses_only_names_match():
    """Nothing tells that 10.0.0.22 is k8snode02: the session without peer_host and the etcd member stay top-level."""
    marked = by_key(C.attribute(fleet(), {}))
    assert marked["calico.bgp_peer:10.0.0.22@k8snode01"]["caused_by"] == finding_key(DOWN)   # peer_host names it
    assert "caused_by" not in marked["calico.bgp_peer:10.0.0.22@k8smaster01"]
    assert "caused_by" not in marked["etcd.member:etcd-2"]
    assert "caused_by" not in marked["etcd.quorum:cluster"]    # its unhealthy member is not attributed


def test_two_hosts_down_the_quorum_follows_from_neither():
    third = finding("host.reachable", "k8snode03", "critical", "host unreachable", host="k8snode03",
                    details={"reason": "unreachable"})
    items = fleet() + [third, finding("etcd.member", "etcd-3", "critical", "down", host="k8snode03",
                                      details={"client_urls": ["https://10.0.0.23:2379"]})]
    items = [dict(f, details=dict(f["details"], healthy=1)) if f["id"] == "etcd.quorum" else f for f in items]
    marked = by_key(C.attribute(items, ADDRESSES))
    assert marked["etcd.member:etcd-3@k8snode03"]["caused_by"] == "host.reachable:k8snode03"
    assert marked["etcd.member:etcd-2"]["caused_by"] == finding_key(DOWN)
    assert "caused_by" not in marked["etcd.quorum:cluster"]
    headline = C.headline(list(marked.values()))
    assert [h["what"] for h in headline] == ["k8snode02 is down", "k8snode03 is down"]


def test_a_workload_with_a_bad_pod_elsewhere_stays_top_level():
    items = fleet() + [pod("oltp-db-1", "worker-1", "k8snode01", "StatefulSet/oltp-db", {"app": "oltp-db"})]
    items = [dict(f, details={"desired": 2, "ready": 0}) if f["id"] == "statefulsets.replicas" else f for f in items]
    marked = by_key(C.attribute(items, ADDRESSES))
    assert "caused_by" not in marked["statefulsets.replicas:product/oltp-db"]
    assert "caused_by" not in marked["services.endpoints:product/oltp-db"]
    assert marked["pods.ready:product/oltp-db-0@k8snode02"]["caused_by"] == finding_key(DOWN)


def test_a_workload_missing_more_replicas_than_the_down_node_explains_stays_top_level():
    items = [dict(f, details={"desired": 3, "ready": 1}) if f["id"] == "statefulsets.replicas" else f for f in fleet()]
    assert "caused_by" not in by_key(C.attribute(items, ADDRESSES))["statefulsets.replicas:product/oltp-db"]


def test_a_node_not_ready_groups_its_pods_but_not_its_hosts_services():
    """kubelet stopped on k8snode03: the Node is NotReady because of the unit, so the unit is no consequence."""
    items = [
        finding("host.reachable", "k8snode03", "ok", "host answered", host="k8snode03"),
        finding("nodes.ready", "worker-3", "critical", "NotReady", host="k8snode03", details={"ready": "Unknown"}),
        finding("node_services.unit", "kubelet", "critical", "inactive (dead)", host="k8snode03"),
        pod("wcs-webui-1-3-0-abc-y", "worker-3", "k8snode03", "Deployment/wcs-webui-1-3-0", {"app": "wcs"}),
        finding("calico.bgp_peer", "10.0.0.23", "critical", "session Active", host="k8snode01",
                details={"address": "10.0.0.23", "peer_host": "k8snode03"}),
    ]
    marked = by_key(C.attribute(items, ADDRESSES))
    assert marked["pods.ready:product/wcs-webui-1-3-0-abc-y@k8snode03"]["caused_by"] == "nodes.ready:worker-3@k8snode03"
    assert "caused_by" not in marked["node_services.unit:kubelet@k8snode03"]
    assert "caused_by" not in marked["calico.bgp_peer:10.0.0.23@k8snode01"]   # the host is up: BGP is its own problem
    assert C.headline(list(marked.values()))[0]["what"] == "Node worker-3 is NotReady"


@pytest.mark.parametrize("reason", ["failed"])
def test_a_host_on_which_a_task_failed_is_no_root(reason):
    items = [dict(DOWN, details={"reason": reason}), fleet()[2]]
    marked = C.attribute(items, ADDRESSES)
    assert all("caused_by" not in f for f in marked)
    # its Node NotReady is a root of its own then
    assert marked[1].get("consequences") == 0


def test_names_are_matched_whole_never_in_part():
    items = [DOWN,
             finding("calico.bgp_peer", "10.0.0.220", "critical", "x", host="k8snode01",
                     details={"address": "10.0.0.220", "peer_host": "k8snode020"}),
             finding("etcd.member", "k8snode02-old", "critical", "x", details={"client_urls": ["https://10.0.0.2:2379"]}),
             pod("k8snode02", "worker-9", "k8snode09", None, {})]
    assert all("caused_by" not in f for f in C.attribute(items, ADDRESSES))


def test_report_shows_the_cause_first_and_counts_everything(tmp_path):
    report = R.build_report("prod", "2026-11-22T01:00:00Z", "2026-11-22T01:05:00Z", fleet())
    report = C.mark(report, ADDRESSES)
    assert report["causes"] == [{"key": finding_key(DOWN), "what": "k8snode02 is down", "status": "critical",
                                 "consequences": 8}]
    assert report["summary"]["critical"] == 9 and report["summary"]["warning"] == 3   # every finding counted
    markdown = R.render(report, TEMPLATES, "markdown")
    # (Markdown-escaped: every value from the findings goes through the md filter)
    assert markdown.splitlines()[0] == "# Inspection prod: CRITICAL - k8snode02 is down \\(8 findings follow from it\\)"
    attention = markdown.split("## Needs attention", 1)[1].split("## Resolved", 1)[0]
    assert attention.startswith(" (4, and 8 under their cause above)")
    assert "10.0.0.22" not in attention and "oltp-db" not in attention
    cause = markdown.split("## k8snode02 is down (8 findings follow from it)", 1)[1].split("## Needs attention")[0]
    assert cause.count("| CRITICAL |") + cause.count("| WARNING |") == 1 + 8
    # with the host: the sessions of two hosts to the same address are two rows one can tell apart
    assert "| k8snode01 | `10.0.0.22` |" in cause and "| k8smaster01 | `10.0.0.22` |" in cause
    html = R.render(report, TEMPLATES, "html")
    assert "<p><b>k8snode02 is down (8 findings follow from it)</b></p>" in html
    section = html.split('<section class="causes">', 1)[1].split("</section>", 1)[0]
    assert "<details>" in section and section.count('<span class="badge') == 9
    notify = R.notify_text(report, limit=5)
    assert notify.splitlines()[1] == "k8snode02 is down \\(8 findings follow from it\\)"
    assert "10.0.0.22" not in notify


def test_one_finding_follows():
    assert C.line([{"what": "node2 is down", "consequences": 1}]) == "node2 is down (1 finding follows from it)"
    causes = [{"what": f"n{i} is down", "consequences": 5 - i} for i in range(5)]
    assert C.line(causes, 3).endswith("n2 is down (3 findings follow from it); 2 more causes")


# -- a real capture: the lab's daily inspection with node2 off the network ---------------------------------------
LAB_ADDRESSES = {"master1": ["198.18.0.11"], "node1": ["198.18.0.21"], "node2": ["198.18.0.22"],
                 "mw1": ["198.18.0.31"], "mw2": ["198.18.0.32"]}


def lab_node2_down() -> dict:
    return json.loads((ROOT / "tests" / "unit" / "fixtures" / "report" / "node2_down.json").read_text(encoding="utf-8"))


def test_lab_node2_down_everything_critical_follows_from_it():
    report = C.mark(lab_node2_down(), LAB_ADDRESSES)
    marked = by_key(report["findings"])
    assert report["causes"] == [{"key": "host.reachable:node2", "what": "node2 is down", "status": "critical",
                                 "consequences": 12}]
    assert sorted(k for k, f in marked.items() if f.get("caused_by")) == sorted([
        "calico.bgp_peer:198.18.0.22@master1", "calico.bgp_peer:198.18.0.22@node1",   # the sessions to node2
        "calico.bgp_peer:198.18.0.11@node2", "calico.bgp_peer:198.18.0.21@node2",     # and node2's own
        "etcd.member:node2", "etcd.quorum:cluster",
        "nodes.ready:node2", "pods.ready:developer-center/app-db-0@node2", "pods.ready:kube-system/calico-node-kvjxc@node2",
        "statefulsets.replicas:developer-center/app-db", "services.endpoints:developer-center/app-db",
        "daemonsets.pods:kube-system/calico-node",
    ])
    # the warnings that stay: journal lines of the other hosts' units and logs (not attributable to a name or address)
    assert {f["category"] for f in report["findings"] if f["status"] != "ok" and not f.get("caused_by")} == {
        "host", "control_plane_services", "node_services", "logs"}


def test_lab_node2_down_sections_before_and_after_grouping():
    """The numbers docs/report.md quotes: what "needs attention" shows without and with the grouping."""
    before = R.view_model(lab_node2_down())
    after = R.view_model(C.mark(lab_node2_down(), LAB_ADDRESSES))

    def shown(view: dict, status: str) -> tuple[int, int]:
        groups = [g for g in view["attention"] if any(e.f["status"] == status for h in g["hosts"] for e in h["entries"])]
        return sum(1 for g in groups for h in g["hosts"] for e in h["entries"] if e.f["status"] == status), len(groups)

    assert (sum(g["count"] for g in before["attention"]), len(before["attention"])) == (22, 11)
    assert shown(before, "critical") == (9, 6)
    assert (sum(g["count"] for g in after["attention"]), len(after["attention"])) == (10, 4)
    assert shown(after, "critical") == (1, 1)              # node2's host.reachable, the cause
    assert after["followers"] == 12 and after["headline"] == "node2 is down (12 findings follow from it)"
    # the summary is the same: every finding counted
    assert lab_node2_down()["summary"] == C.mark(lab_node2_down(), LAB_ADDRESSES)["summary"]
