"""log_scan on the lab: hostile links, copytruncate, access logs of the real nginx on mw1, the state file."""
from __future__ import annotations

import json
import uuid

import pytest

from test_etcd_backup import run_module

D = "/var/log/kubeops-itest-logscan"


@pytest.fixture
def scratch(lab):
    """A log directory on mw1 owned by a service user (nobody), a root-only secret next to it, a state file."""
    tag = uuid.uuid4().hex[:8]
    state = f"/tmp/kubeops-itest-logscan-{tag}.json"
    secret = f"/root/kubeops-itest-secret-{tag}"
    lab.ssh("mw1", f"rm -rf {D} && mkdir -p {D}/svc && chown nobody:nogroup {D}/svc && "
                   f"echo 'root password hunter2: error' > {secret} && chmod 600 {secret}")
    try:
        yield {"state": state, "secret": secret, "tag": tag}
    finally:
        lab.ssh("mw1", f"rm -rf {D} {state} {secret}", check=False)


def test_a_link_planted_by_a_service_user_is_refused(lab, scratch):
    """The service user owns its log directory and replaces its log by a link to a root-only file."""
    lab.ssh("mw1", f"su -s /bin/sh nobody -c 'ln -s {scratch['secret']} {D}/svc/redis-server.log'")
    args = {"files": [{"path": f"{D}/svc/redis-server.log", "name": "redis"}], "state_file": scratch["state"]}
    for mode in ("incremental", "tail"):
        result = run_module(lab, "mw1", "kubeops.runbook.log_scan", {**args, "mode": mode})
        item = result["findings"][0]
        assert item["status"] == "unknown" and "is a symbolic link to" in item["summary"], item
        assert "outside its directory" in item["summary"] and "hunter2" not in json.dumps(result)
    # a link the service makes within its own directory is still followed
    lab.ssh("mw1", f"su -s /bin/sh nobody -c 'rm {D}/svc/redis-server.log && echo \"1:M # Out Of Memory\" > "
                   f"{D}/svc/redis-6379.log && ln -s redis-6379.log {D}/svc/redis-server.log'")
    result = run_module(lab, "mw1", "kubeops.runbook.log_scan", {**args, "mode": "tail"})
    assert result["findings"][0]["details"]["counts"]["oom"] == 1


def test_copytruncate_then_more_than_before_is_read_from_the_start(lab, scratch):
    """logrotate's copytruncate keeps the inode; when the service writes more than the old offset before the next
    inspection, only the head shows it. The first lines after the rotation (here an OOM) must be seen."""
    log = f"{D}/app.log"
    conf = f"{D}/logrotate.conf"
    lab.ssh("mw1", f"for i in $(seq 1 20); do echo \"$(date -Is) app started worker $i\"; done > {log} && "
                   f"printf '%s {{\\n  copytruncate\\n  rotate 2\\n}}\\n' {log} > {conf}")
    args = {"files": [{"path": log, "name": "app"}], "state_file": scratch["state"]}
    first = run_module(lab, "mw1", "kubeops.runbook.log_scan", args)
    assert first["findings"][0]["status"] == "ok"
    inode = lab.ssh("mw1", f"stat -c %i {log}").stdout
    has_logrotate = lab.ssh("mw1", "command -v logrotate", check=False).returncode == 0
    lab.ssh("mw1", f"logrotate -f -s {D}/logrotate.state {conf}" if has_logrotate else f"cp {log} {log}.1 && : > {log}")
    lab.ssh("mw1", f"echo \"$(date -Is) kernel: Out of memory: Killed process 4242 (java)\" >> {log} && "
                   f"for i in $(seq 1 40); do echo \"$(date -Is) app still running, request $i\"; done >> {log}")
    assert lab.ssh("mw1", f"stat -c %i {log}").stdout == inode  # same inode, longer than before
    result = run_module(lab, "mw1", "kubeops.runbook.log_scan", args)
    item = result["findings"][0]
    assert item["status"] == "critical" and item["details"]["counts"]["oom"] == 1, item
    assert item["details"]["reset"] == "truncated and written again (copytruncate)" and item["details"]["start"] == 0


def test_garbage_state_file_is_one_summary_not_a_traceback(lab, scratch):
    log = f"{D}/app.log"
    lab.ssh("mw1", f"echo 'worker failed' > {log} && echo '{{\"files\": {{\"{log}\": {{\"inode\": 1, \"device\": 1, "
                   f"\"offset\": -5}}}}}}' > {scratch['state']}")
    result = run_module(lab, "mw1", "kubeops.runbook.log_scan",
                        {"files": [{"path": log, "name": "app"}], "state_file": scratch["state"]})
    item = result["findings"][0]
    assert item["status"] == "warning" and "previous state unusable (offset -5)" in item["summary"]
    state = json.loads(lab.ssh("mw1", f"cat {scratch['state']}").stdout)
    assert state["files"][log]["offset"] == len("worker failed\n")


def test_real_nginx_access_log_counts_requests_since_the_last_scan(lab, scratch):
    """mw1's nginx writes the handbook's tomcat_access.<date>.log (combined format); the glob picks today's."""
    glob = "/data/iuap/logs/nginx/tomcat_access.*.log"
    args = {"files": [{"path": glob, "name": "tomcat_access", "kind": "access"}], "state_file": scratch["state"],
            "access_min_requests": 10}
    lab.ssh("mw1", "curl -s -m 10 -o /dev/null http://127.0.0.1/portal/")  # today's file exists
    baseline = run_module(lab, "mw1", "kubeops.runbook.log_scan", args)
    assert baseline["findings"][0]["id"] == "logs.tomcat_access"
    # nginx logs a request when it has answered it; these are proxied to the apiserver (the lab's `location /`), so
    # each is bounded (-m 10) and the statuses curl saw are kept for the message below
    codes = lab.ssh("mw1", f"for i in $(seq 1 25); do curl -s -m 10 -o /dev/null -w '%{{http_code}} ' "
                           f"http://127.0.0.1/kubeops-itest-{scratch['tag']}/$i; done", timeout=300).stdout
    try:
        lab.wait(lambda: int(lab.ssh("mw1", f"cat {glob} | grep -c kubeops-itest-{scratch['tag']} || true").stdout) >= 25,
                 "nginx logged the requests", timeout=60, interval=1)
    except AssertionError as exc:
        seen = lab.ssh("mw1", "ls -l /data/iuap/logs/nginx/; tail -n 5 /data/iuap/logs/nginx/developer-center_error.log "
                              "/var/log/nginx/error.log; systemctl is-active nginx", check=False).stdout
        raise AssertionError(f"{exc}; curl got: {codes}\n{seen}") from None
    predicted = run_module(lab, "mw1", "kubeops.runbook.log_scan", args, check=True)
    result = run_module(lab, "mw1", "kubeops.runbook.log_scan", args)
    item = result["findings"][0]
    details = item["details"]
    assert details["requests"] >= 25 and details["unparsed"] == 0, item
    assert details["file"].startswith("/data/iuap/logs/nginx/tomcat_access.") and details["file"] != glob
    assert sum(details["statuses"].values()) == details["requests"]
    assert item["status"] in ("ok", "warning", "critical") and "requests" in item["summary"]
    assert predicted["findings"][0]["details"]["requests"] == details["requests"]  # check mode: same, state kept
    again = run_module(lab, "mw1", "kubeops.runbook.log_scan", args)
    assert again["findings"][0]["details"]["requests"] < 25  # only what came since


def test_bad_access_options_fail_with_one_line(lab):
    """The module fails with one line naming the bad value; the findings action turns that into an unknown
    finding about the log (the host's other checks still run)."""
    for args, message in (
            ({"files": [{"path": "/var/log/messages", "kind": "access", "status_regex": "("}]},
             "status_regex '(' does not compile"),
            ({"files": [{"path": "/var/log/messages"}], "access_5xx_warning": 10, "access_5xx_critical": 5},
             "access_5xx_warning 10.0 is above access_5xx_critical 5.0")):
        result = run_module(lab, "mw1", "kubeops.runbook.log_scan", args)
        assert message in result["msg"] and "\n" not in result["msg"] and "Traceback" not in result["msg"]
        [found] = result["findings"]
        assert (found["id"], found["status"], found["target"]) == ("logs.messages", "unknown", "/var/log/messages")
        assert message in found["details"]["error"]


def test_samples_reach_the_result_without_escapes_or_credentials(lab, scratch):
    """An application logging in colour, a NUL from a torn write, a request's bearer token and the Spring password on
    its command line: counted, and the samples that reach the task output (and the report) carry none of them."""
    log = f"{D}/app.log"
    lab.ssh("mw1", f"printf '2026-12-06 10:00:00 \\033[31m ERROR\\033[0m GET /api Authorization: Bearer "
                   f"eyJhbGciOiJSUzI1NiJ9.kubeops{scratch['tag']}\\n"
                   f"2026-12-06 10:00:01 ERROR start failed: java -Dspring.datasource.password=S3cr3t{scratch['tag']} "
                   f"-jar app.jar\\000\\000\\n' > {log}")
    result = run_module(lab, "mw1", "kubeops.runbook.log_scan", {"files": [{"path": log, "name": "app"}], "mode": "tail"})
    item = result["findings"][0]
    assert item["details"]["counts"]["error"] == 2, item
    text = json.dumps(result)
    assert scratch["tag"] not in text and "\\u001b" not in text and "\\u0000" not in text, item["details"]["samples"]
    assert item["details"]["samples"]["error"][0].endswith("Authorization: Bearer <redacted>")
