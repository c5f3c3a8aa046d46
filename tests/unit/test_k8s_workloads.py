"""The other workload kinds of k8s_cluster_info (plugins/module_utils/_k8s_checks.py): DaemonSets, StatefulSets,
Jobs, CronJobs, PersistentVolumeClaims and HorizontalPodAutoscalers, on objects captured from the lab
(tests/unit/fixtures/k8s/README.md says how; fault shapes the lab lacks are made here by editing status fields)."""
from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s
from ansible_collections.kubeops.runbook.plugins.module_utils import _k8s_checks as C

FIX = Path(__file__).parent / "fixtures" / "k8s"
UTC = dt.timezone.utc


def objects(name: str) -> dict[str, list[dict]]:
    """kind -> items of a `kubectl get <kinds> -A -o json` List."""
    out: dict[str, list[dict]] = {}
    for item in json.loads((FIX / name).read_text())["items"]:
        out.setdefault(item["kind"], []).append(item)
    return out


HEALTHY = objects("healthy_workloads.json")
DRYRUN = objects("dryrun_workloads.json")


def one(kind: str, source: dict | None = None) -> dict:
    return copy.deepcopy((source or HEALTHY)[kind][0])


def key(obj: dict) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def by_target(findings: list[dict]) -> dict[str, dict]:
    return {f["target"]: f for f in findings}


def ts(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_written(obj: dict, when: dt.datetime) -> None:
    """The spec was last written at `when` (a manager's Update outside a subresource)."""
    obj["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update", "time": ts(when)},
                                        {"manager": "kube-controller-manager", "operation": "Update",
                                         "subresource": "status", "time": ts(when + dt.timedelta(days=3))}]


NOW = dt.datetime(2030, 1, 1, 9, 0, tzinfo=UTC)   # after every time in the fixtures


# -- the healthy lab ------------------------------------------------------------------------------------------
def test_healthy_lab_kinds_are_ok_and_aggregated_per_namespace():
    assert {"DaemonSet", "StatefulSet", "PersistentVolumeClaim"} <= set(HEALTHY)
    findings = (C.daemonset_findings(HEALTHY["DaemonSet"], now=NOW)
                + C.statefulset_findings(HEALTHY["StatefulSet"], now=NOW)
                + C.job_findings(HEALTHY.get("Job", []), HEALTHY.get("CronJob", []))
                + C.cronjob_findings(HEALTHY.get("CronJob", []), now=NOW)
                + C.pvc_findings(HEALTHY["PersistentVolumeClaim"], now=NOW)
                + C.hpa_findings(HEALTHY.get("HorizontalPodAutoscaler", [])))
    assert {f["status"] for f in findings} == {"ok"}
    assert all(f["target"].endswith("/*") for f in findings)   # one aggregate per namespace, not one per object
    daemonsets = by_target(C.daemonset_findings(HEALTHY["DaemonSet"], now=NOW))
    assert "kube-system/*" in daemonsets
    assert daemonsets["kube-system/*"]["details"]["daemonsets"] == sum(
        1 for d in HEALTHY["DaemonSet"] if d["metadata"]["namespace"] == "kube-system")
    assert "developer-center/*" in by_target(C.statefulset_findings(HEALTHY["StatefulSet"], now=NOW))


def test_calico_node_is_a_daemonset_with_every_pod_ready():
    calico = next(d for d in HEALTHY["DaemonSet"] if d["metadata"]["name"] == "calico-node")
    assert calico["status"]["desiredNumberScheduled"] >= 1
    assert calico["status"]["numberReady"] == calico["status"]["desiredNumberScheduled"]
    assert C.spec_changed_at(calico) is not None   # captured with --show-managed-fields


def test_namespaces_option_filters_the_one_list():
    assert C.daemonset_findings(HEALTHY["DaemonSet"], ["product"], now=NOW) == []
    assert {f["target"] for f in C.statefulset_findings(HEALTHY["StatefulSet"], ["developer-center"], now=NOW)} == {
        "developer-center/*"}


# -- DaemonSets -----------------------------------------------------------------------------------------------
def calico(**status) -> dict:
    ds = next(copy.deepcopy(d) for d in HEALTHY["DaemonSet"] if d["metadata"]["name"] == "calico-node")
    ds["status"].update(status)
    return ds


def test_daemonset_pod_not_ready_is_a_warning_naming_the_gap():
    desired = calico()["status"]["desiredNumberScheduled"]
    ds = calico(numberReady=desired - 1, numberAvailable=desired - 1, numberUnavailable=1)
    [item] = C.daemonset_findings([ds], now=NOW)
    assert item["status"] == "warning" and item["target"] == "kube-system/calico-node"
    assert "1 not ready" in item["summary"] and item["details"]["unavailable"] == 1


def test_daemonset_none_ready_is_critical():
    ds = calico(numberReady=0, numberAvailable=0)
    [item] = C.daemonset_findings([ds], now=NOW)
    assert item["status"] == "critical" and ": none ready" in item["summary"]


def test_daemonset_rollout_within_the_grace_is_not_reported_and_beyond_it_is():
    desired = calico()["status"]["desiredNumberScheduled"]
    ds = calico(updatedNumberScheduled=max(desired - 1, 0), numberReady=max(desired - 1, 1))
    ds["metadata"]["generation"] = ds["status"]["observedGeneration"] + 1
    spec_written(ds, NOW - dt.timedelta(seconds=120))
    findings = C.daemonset_findings([ds], rollout_grace_seconds=600, now=NOW)
    assert [f["status"] for f in findings] == ["ok"] and findings[0]["target"] == "kube-system/*"
    [late] = C.daemonset_findings([ds], rollout_grace_seconds=60, now=NOW)
    assert late["status"] == "warning"
    assert "not up-to-date" in late["summary"] and "spec changed 2m ago" in late["summary"]
    assert f"has not observed generation {ds['metadata']['generation']}" in late["summary"]


def test_daemonset_misscheduled_pods_are_reported_even_during_a_rollout():
    ds = calico(numberMisscheduled=1)
    ds["metadata"]["generation"] = ds["status"]["observedGeneration"] + 1
    spec_written(ds, NOW - dt.timedelta(seconds=10))
    [item] = C.daemonset_findings([ds], now=NOW)
    assert item["status"] == "warning" and "1 running on nodes they should not run on" in item["summary"]


def test_spec_change_time_ignores_status_writes():
    ds = calico()
    spec_written(ds, NOW - dt.timedelta(hours=5))
    assert C.spec_changed_at(ds) == NOW - dt.timedelta(hours=5)
    ds["metadata"]["managedFields"] = [entry for entry in ds["metadata"]["managedFields"] if entry.get("subresource")]
    assert C.spec_changed_at(ds) is None


# -- StatefulSets ---------------------------------------------------------------------------------------------
def app_db(**status) -> dict:
    sts = next(copy.deepcopy(s) for s in HEALTHY["StatefulSet"] if s["metadata"]["name"] == "app-db")
    sts["status"].update(status)
    return sts


def test_statefulset_none_ready_is_critical():
    [item] = C.statefulset_findings([app_db(readyReplicas=0, availableReplicas=0)], now=NOW)
    assert item["status"] == "critical" and item["target"] == "developer-center/app-db"


def test_statefulset_replica_not_ready_is_a_warning():
    sts = app_db()
    sts["spec"]["replicas"] = sts["status"]["replicas"] = sts["status"]["readyReplicas"] + 1
    [item] = C.statefulset_findings([sts], now=NOW)
    assert item["status"] == "warning" and "1 not ready" in item["summary"]


def test_statefulset_scaled_up_a_minute_ago_is_not_reported_yet():
    sts = app_db()
    sts["spec"]["replicas"] = sts["status"]["replicas"] + 2
    spec_written(sts, NOW - dt.timedelta(minutes=1))
    assert [f["status"] for f in C.statefulset_findings([sts], now=NOW)] == ["ok"]
    [late] = C.statefulset_findings([sts], now=NOW + dt.timedelta(minutes=15))
    assert late["status"] == "warning" and "2 not created" in late["summary"]


def test_statefulset_stuck_rollout_is_a_warning_after_the_grace_only():
    sts = app_db(updateRevision="app-db-5c7d9f8b6d", updatedReplicas=0)
    spec_written(sts, NOW - dt.timedelta(minutes=5))
    assert [f["status"] for f in C.statefulset_findings([sts], rollout_grace_seconds=600, now=NOW)] == ["ok"]
    [item] = C.statefulset_findings([sts], rollout_grace_seconds=120, now=NOW)
    assert item["status"] == "warning"
    assert f"on revision {sts['status']['currentRevision']}, not app-db-5c7d9f8b6d" in item["summary"]
    assert "rollout not finished 5m after the spec changed" in item["summary"]


def test_statefulset_on_delete_and_partition():
    sts = app_db(updateRevision="app-db-5c7d9f8b6d", updatedReplicas=0)
    spec_written(sts, NOW - dt.timedelta(days=2))
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    [item] = C.statefulset_findings([sts], now=NOW)
    assert item["status"] == "warning" and "OnDelete" in item["summary"]
    sts["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    assert [f["status"] for f in C.statefulset_findings([sts], now=NOW)] == ["ok"]


# -- Jobs and CronJobs ----------------------------------------------------------------------------------------
def failed_job(at: dt.datetime, cronjob: str | None = None) -> dict:
    """The dry-run Job with the status the job controller writes when backoffLimit is used up."""
    job = one("Job", DRYRUN)
    job["status"] = {"failed": 7, "startTime": ts(at - dt.timedelta(minutes=3)), "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit", "lastTransitionTime": ts(at)},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit", "lastTransitionTime": ts(at)}]}
    if cronjob:
        job["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob,
                                               "uid": "0d7c4f1e-0000-4000-8000-000000000001", "controller": True}]
    return job


def test_failed_job_is_a_warning_with_its_reason():
    job = failed_job(NOW - dt.timedelta(hours=1))
    [item] = C.job_findings([job])
    assert item["status"] == "warning" and item["target"] == key(job)
    assert item["summary"] == "failed (BackoffLimitExceeded: Job has reached the specified backoff limit)"
    assert item["details"]["failed_pods"] == 7


def test_failed_job_of_a_cronjob_that_succeeded_since_is_not_reported():
    cronjob = one("CronJob", DRYRUN)
    job = failed_job(NOW - dt.timedelta(hours=2), cronjob["metadata"]["name"])
    cronjob["status"] = {"lastSuccessfulTime": ts(NOW - dt.timedelta(hours=1))}
    assert [f["status"] for f in C.job_findings([job], [cronjob])] == ["ok"]
    cronjob["status"] = {"lastSuccessfulTime": ts(NOW - dt.timedelta(hours=3))}   # succeeded before, not since
    [item] = C.job_findings([job], [cronjob])
    assert item["status"] == "warning" and f"CronJob {cronjob['metadata']['name']}" in item["summary"]


def test_running_and_complete_jobs_are_one_ok_per_namespace():
    running, complete = one("Job", DRYRUN), one("Job", DRYRUN)
    complete["metadata"]["name"] += "-done"
    complete["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    [item] = C.job_findings([running, complete])
    assert item["status"] == "ok" and item["details"]["jobs"] == 2


def cron(scheduled: dt.timedelta | None, succeeded: dt.timedelta | None, active: int = 0, suspend: bool = False) -> dict:
    cronjob = one("CronJob", DRYRUN)
    cronjob["metadata"]["creationTimestamp"] = ts(NOW - dt.timedelta(days=30))
    cronjob["spec"]["suspend"] = suspend
    status: dict = {}
    if scheduled is not None:
        status["lastScheduleTime"] = ts(NOW - scheduled)
    if succeeded is not None:
        status["lastSuccessfulTime"] = ts(NOW - succeeded)
    if active:
        status["active"] = [{"kind": "Job", "namespace": cronjob["metadata"]["namespace"], "name": f"run-{i}"}
                            for i in range(active)]
    cronjob["status"] = status
    return cronjob


@pytest.mark.parametrize("cronjob, status, text", [
    (cron(dt.timedelta(minutes=5), dt.timedelta(minutes=4)), "ok", None),                   # last run succeeded
    (cron(dt.timedelta(minutes=5), dt.timedelta(minutes=40)), "ok", None),                  # failing for 35 min only
    (cron(dt.timedelta(minutes=5), dt.timedelta(hours=3)), "warning", "last success 3h ago"),
    (cron(dt.timedelta(hours=2), None), "warning", "no run has succeeded since it was created"),
    (cron(dt.timedelta(days=8), dt.timedelta(days=15), suspend=True), "ok", None),          # suspended
    (cron(None, None), "ok", None),                                                         # never scheduled yet
    (cron(dt.timedelta(hours=30), dt.timedelta(days=2), active=1), "warning", "1 run(s) active, the newest scheduled 30h ago"),
    (cron(dt.timedelta(hours=2), dt.timedelta(days=1), active=1), "ok", None),              # a long run, within the limit
])
def test_cronjob_runs(cronjob, status, text):
    [item] = C.cronjob_findings([cronjob], failing_seconds=3600, active_seconds=86400, now=NOW)
    assert item["status"] == status
    if text:
        assert text in item["summary"] and item["target"] == key(cronjob)


# -- PersistentVolumeClaims -----------------------------------------------------------------------------------
def claim(phase: str, age: dt.timedelta) -> dict:
    pvc = one("PersistentVolumeClaim")
    pvc["metadata"]["creationTimestamp"] = ts(NOW - age)
    pvc["status"] = {"phase": phase}
    return pvc


@pytest.mark.parametrize("phase, age, status", [
    ("Bound", dt.timedelta(days=9), "ok"),
    ("Pending", dt.timedelta(minutes=2), "ok"),
    ("Pending", dt.timedelta(minutes=20), "warning"),
    ("Lost", dt.timedelta(days=9), "critical"),
])
def test_pvc_phase(phase, age, status):
    pvc = claim(phase, age)
    [item] = C.pvc_findings([pvc], pending_seconds=600, now=NOW)
    assert item["status"] == status
    if status != "ok":
        assert item["target"] == key(pvc) and item["summary"].startswith(phase)
    if phase == "Lost":
        assert pvc["spec"]["volumeName"] in item["summary"]


# -- HorizontalPodAutoscalers ---------------------------------------------------------------------------------
def hpa(current: int, conditions: dict[str, tuple[str, str]] | None = None, minimum: int = 1) -> dict:
    obj = one("HorizontalPodAutoscaler", DRYRUN)
    obj["spec"]["minReplicas"] = minimum
    obj["status"] = {"currentReplicas": current, "desiredReplicas": current, "conditions": [
        {"type": ctype, "status": cstatus, "reason": reason, "message": f"{reason} (edited)",
         "lastTransitionTime": ts(NOW - dt.timedelta(hours=1))}
        for ctype, (cstatus, reason) in (conditions or {"AbleToScale": ("True", "ReadyForNewScale"),
                                                        "ScalingActive": ("True", "ValidMetricFound")}).items()]}
    return obj


def test_hpa_below_its_maximum_is_ok_and_at_it_is_a_warning():
    maximum = one("HorizontalPodAutoscaler", DRYRUN)["spec"]["maxReplicas"]
    assert [f["status"] for f in C.hpa_findings([hpa(maximum - 1)])] == ["ok"]
    [item] = C.hpa_findings([hpa(maximum, {"AbleToScale": ("True", "ReadyForNewScale"),
                                           "ScalingLimited": ("True", "TooManyReplicas")})])
    assert item["status"] == "warning"
    assert item["summary"] == f"at its maximum ({maximum}/{maximum} replicas) and wants more"


def test_hpa_with_a_fixed_size_is_not_at_a_maximum():
    maximum = one("HorizontalPodAutoscaler", DRYRUN)["spec"]["maxReplicas"]
    assert [f["status"] for f in C.hpa_findings([hpa(maximum, minimum=maximum)])] == ["ok"]


@pytest.mark.parametrize("conditions, status", [
    ({"ScalingActive": ("False", "FailedGetResourceMetric")}, "warning"),
    ({"AbleToScale": ("False", "FailedGetScale")}, "warning"),
    ({"ScalingActive": ("False", "ScalingDisabled")}, "ok"),
])
def test_hpa_unable_to_scale(conditions, status):
    [item] = C.hpa_findings([hpa(1, conditions)])
    assert item["status"] == status
    if status == "warning":
        [(ctype, (_s, reason))] = conditions.items()
        assert f"{ctype} False ({reason}" in item["summary"]


# -- bad thresholds -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: C.daemonset_findings([], rollout_grace_seconds=-1), "rollout_grace_seconds"),
    (lambda: C.cronjob_findings([], failing_seconds=-5), "cronjob_failing_seconds"),
    (lambda: C.cronjob_findings([], active_seconds="1d"), "cronjob_active_seconds"),
    (lambda: C.pvc_findings([], pending_seconds=-1), "pvc_pending_seconds"),
])
def test_bad_threshold_is_an_error_naming_it(call, name):
    with pytest.raises(C.CheckError, match=name):
        call()


# -- orchestration: one LIST per kind; a kind that cannot be listed is an unknown finding of its check ----------
class Lister:
    def __init__(self, fail: dict[str, str] | None = None):
        self.fail = fail or {}
        self.calls: list[str] = []
        kinds = {"DaemonSet": "daemonsets", "StatefulSet": "statefulsets", "Job": "jobs", "CronJob": "cronjobs",
                 "PersistentVolumeClaim": "persistentvolumeclaims", "HorizontalPodAutoscaler": "horizontalpodautoscalers"}
        self.items = {plural: HEALTHY.get(kind, []) for kind, plural in kinds.items()}

    def __call__(self, api_client, kind, page_size, timeout, from_cache=False):
        self.calls.append(kind)
        if kind in self.fail:
            raise _k8s.K8sError(self.fail[kind])
        return _k8s.ListResult(self.items.get(kind, []), 1, "1")


@pytest.fixture()
def version(monkeypatch):
    monkeypatch.setattr(_k8s, "server_version", lambda api, timeout=30: {"gitVersion": "v1.30.14"})


WORKLOAD_CHECKS = ["daemonsets", "statefulsets", "jobs", "cronjobs", "persistentvolumeclaims", "horizontalpodautoscalers"]


def test_each_kind_is_listed_once(version):
    lister = Lister()
    result = C.inspect_cluster(object(), {"checks": WORKLOAD_CHECKS, "now": NOW}, lister=lister)
    assert sorted(lister.calls) == sorted(set(lister.calls)) == sorted(WORKLOAD_CHECKS)
    assert {f["status"] for f in result["findings"]} == {"ok"}
    assert set(result["api_requests"]) == set(WORKLOAD_CHECKS)


def test_a_kind_the_api_does_not_serve_is_unknown_and_the_others_still_run(version):
    lister = Lister({"horizontalpodautoscalers": "Kubernetes API at https://x answered HTTP 404 Not Found",
                     "cronjobs": "Kubernetes API at https://x refused the credentials (HTTP 403 Forbidden)"})
    result = C.inspect_cluster(object(), {"checks": WORKLOAD_CHECKS, "now": NOW}, lister=lister)
    unknown = {f["id"]: f for f in result["findings"] if f["status"] == "unknown"}
    # jobs needs the CronJobs to tell a failure superseded by a later success: it could not run either
    assert set(unknown) == {"horizontalpodautoscalers.scaling", "cronjobs.runs", "jobs.failed"}
    assert unknown["horizontalpodautoscalers.scaling"]["target"] == "cluster"
    assert "cannot list horizontalpodautoscalers: Kubernetes API at https://x answered HTTP 404" in \
        unknown["horizontalpodautoscalers.scaling"]["summary"]
    assert "HTTP 403" in unknown["jobs.failed"]["summary"]
    ran = {f["id"] for f in result["findings"] if f["status"] == "ok"}
    assert {"control_plane_services.api", "daemonsets.pods", "statefulsets.replicas",
            "persistentvolumeclaims.phase"} <= ran
    assert lister.calls.count("cronjobs") == 1   # a failed kind is not asked for again


def test_a_failing_list_of_an_older_check_still_ends_the_run_as_before(version):
    lister = Lister({"nodes": "Kubernetes API at https://x is unreachable: timed out"})
    result = C.inspect_cluster(object(), {"checks": ["nodes", "daemonsets"]}, lister=lister)
    [item] = result["findings"]
    assert item["id"] == "control_plane_services.api" and item["status"] == "critical"


def test_daily_defaults_include_every_workload_kind():
    assert set(WORKLOAD_CHECKS) <= set(C.DEFAULT_CHECKS) and "namespaces" not in C.DEFAULT_CHECKS
    assert all(kind in _k8s.KINDS for check in C.DEFAULT_CHECKS for kind in C.KINDS_FOR[check])
