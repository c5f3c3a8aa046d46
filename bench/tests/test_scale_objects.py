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
