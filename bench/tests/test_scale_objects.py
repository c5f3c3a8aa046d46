"""lab/scale.py's object generators (pure): addresses stay in the benchmarking block, names and faults add up."""
from __future__ import annotations

import ipaddress

from lab import scale

BENCH_BLOCK = ipaddress.ip_network("198.18.0.0/15")   # RFC 2544


def test_nodes_have_distinct_addresses_and_pod_ranges_in_the_benchmarking_block():
    nodes = scale.node_objects(scale.Spec())
    assert len(nodes) == 2000
    ips = [n["status"]["addresses"][0]["address"] for n in nodes]
    cidrs = [ipaddress.ip_network(n["spec"]["podCIDR"]) for n in nodes]
    assert len(set(ips)) == 2000 and len(set(cidrs)) == 2000
    assert all(ipaddress.ip_address(ip) in BENCH_BLOCK for ip in ips)
    assert all(c.subnet_of(BENCH_BLOCK) and c.num_addresses >= 16 for c in cidrs)
    assert not any(ipaddress.ip_address(ip) in c for ip in ips for c in cidrs[:50])
    assert all(n["metadata"]["labels"][scale.LABEL_KEY] == "true" for n in nodes)


def test_workloads_spread_over_namespaces_with_services_without_endpoints():
    spec = scale.Spec()
    items, deps = scale.workloads(spec)
    dep_objs = [i for i in items if i["kind"] == "Deployment"]
    svcs = [i for i in items if i["kind"] == "Service"]
    assert len(dep_objs) == len(svcs) == len(deps) == 1000
    assert sum(d["spec"]["replicas"] for d in dep_objs) == spec.pods == 10000
    assert {ns for ns, _ in deps} == set(scale.namespace_names(spec)) and len(scale.namespace_names(spec)) == 50
    assert len({(ns, n) for ns, n in deps}) == 1000
    names = {n for _, n in deps}
    orphans = [s for s in svcs if s["spec"]["selector"]["app"] not in names]
    assert len(orphans) == spec.services_without_endpoints
    assert all(d["spec"]["template"]["metadata"]["labels"][scale.LABEL_KEY] == "true" for d in dep_objs)


def test_scaled_spec_keeps_every_fault_kind():
    small = scale.Spec().scaled(0.01)
    assert small.nodes == 20 and small.deployments == 10
    assert min(small.crashloop_deployments, small.notready_deployments, small.broken_rollouts,
               small.services_without_endpoints) >= 1
    assert scale.Spec().scaled(1) == scale.Spec()


def test_faulted_pod_statuses():
    pod = {"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                      "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                             "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]}}
    crash = scale._crash(pod, 9)["status"]  # pylint: disable=protected-access
    assert crash["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert crash["containerStatuses"][0]["restartCount"] == 9 and not crash["containerStatuses"][0]["ready"]
    assert [c["status"] for c in crash["conditions"]] == ["False", "True"]
    unready = scale._unready(pod)["status"]  # pylint: disable=protected-access
    assert "running" in unready["containerStatuses"][0]["state"] and not unready["containerStatuses"][0]["ready"]
    assert pod["status"]["containerStatuses"][0]["ready"] is True   # the input is not changed


def test_the_scale_kwok_is_quiet():
    """No node leases, node Stages of our own (kwok then adds no default node Stage; its pod Stages stay), a heartbeat
    every 5-10 minutes, and a node-monitor grace period longer than that."""
    import yaml  # pylint: disable=import-outside-toplevel
    spec = scale.Spec()
    assert spec.lease_seconds == 0
    docs = list(yaml.safe_load_all(scale.kwok_config(spec)))
    assert docs[0]["kind"] == "KwokConfiguration" and "nodeLeaseParallelism" not in docs[0]["options"]
    stages = {d["metadata"]["name"]: d["spec"] for d in docs[1:]}
    assert set(stages) == {"node-initialize", "node-heartbeat-quiet"}
    assert all(s["resourceRef"] == {"apiGroup": "v1", "kind": "Node"} for s in stages.values())
    assert stages["node-heartbeat-quiet"]["delay"] == {"durationMilliseconds": 300_000, "jitterDurationMilliseconds": 600_000}
    assert "lastHeartbeatTime" in stages["node-heartbeat-quiet"]["next"]["statusTemplate"]
    assert "phase: Running" in stages["node-initialize"]["next"]["statusTemplate"]
    assert spec.grace_seconds > spec.heartbeat_jitter_seconds
    # 2,000 nodes: a status write every 7.5 minutes on average is ~4.4 writes/s (leases and kwok's default: ~230)
    assert spec.nodes / ((spec.heartbeat_seconds + spec.heartbeat_jitter_seconds) / 2) < 5


def test_a_grace_period_shorter_than_the_heartbeat_is_refused():
    import dataclasses  # pylint: disable=import-outside-toplevel
    import pytest  # pylint: disable=import-outside-toplevel
    with pytest.raises(scale.LabError, match="grace_seconds 600 must exceed"):
        scale.kwok_config(dataclasses.replace(scale.Spec(), grace_seconds=600))


def test_grace_period_read_from_exec_start():
    assert scale._grace("/app/kube-controller-manager --v=2 \\\n  --node-monitor-grace-period=20s --x=1") == "20s"  # pylint: disable=protected-access
    assert scale._grace("a --node-monitor-grace-period=20s --node-monitor-grace-period=3600s") == "3600s"  # pylint: disable=protected-access
    assert scale._grace("/app/kube-controller-manager") == "40s (default)"  # pylint: disable=protected-access


def test_cpu_and_rss_from_two_snapshots():
    text = ("100.0\nkube-apiserver 1000 500 300000\netcd 200 100 51200\netcd 10 10 1024\n--\n"
            "160.0\nkube-apiserver 2500 1000 310000\netcd 500 200 52224\netcd 10 10 1024\n--\n")
    got = scale.parse_usage(text)
    assert got["kube-apiserver"] == {"cores": 0.333, "rss_mib": 302.7}     # 20 s of CPU in 60 s
    assert got["etcd"] == {"cores": 0.067, "rss_mib": 52.0}                # two processes of that name, summed
    assert scale.parse_usage("100.0\n--\n") == {}


def test_pod_lists_served_sums_the_cluster_wide_pod_lists_of_every_code(monkeypatch):
    metrics = "\n".join([
        "# HELP apiserver_request_total [STABLE] Counter of apiserver requests",
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="cluster",'
        'subresource="",verb="LIST",version="v1"} 6928',
        'apiserver_request_total{code="500",component="apiserver",dry_run="",group="",resource="pods",scope="cluster",'
        'subresource="",verb="LIST",version="v1"} 2',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",'
        'subresource="",verb="LIST",version="v1"} 265',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="nodes",scope="cluster",'
        'subresource="",verb="LIST",version="v1"} 205',
        'apiserver_request_duration_seconds_count{resource="pods",scope="cluster",verb="LIST"} 99',
    ])

    class Done:
        stdout = metrics

    monkeypatch.setattr(scale, "_kubectl", lambda *args, **kwargs: Done())
    assert scale.pod_lists_served() == 6930


def test_kwok_lists_settle_despite_the_lab_kwoks_steady_lists():
    # the 0.1-scale run that never settled with "unchanged for three polls": the lab's two kwoks add ~2 per 6 s
    steady = [300, 301, 303, 304, 305, 307, 308]
    assert scale.lists_settled(steady, 200)
    assert not scale.lists_settled([50, 120, 190, 260], 200)         # the backlog still running
    assert not scale.lists_settled([150, 150, 151, 151], 200)        # quiet, but not every node looked at yet
    assert not scale.lists_settled([200, 201], 200)                  # too few polls to tell
