"""Middleware checks on the lab's middleware hosts: the real modules and the middleware_inspection role against real
nginx and the license-server unit (mw1), redis, rabbitmq and mariadb (mw2); faults by stopping units (started again
afterwards). Each host declares what it runs (kubeops_middleware) and is checked for that only."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# nginx's logs come from its own configuration (nginx -T): Debian's main error and access logs, the handbook's
# developer-center error log and its dated tomcat access logs
MW1_IDS = {"middleware.nginx", "middleware.license_server", "logs.nginx_error", "logs.nginx_developer_center_error",
           "logs.nginx_access", "logs.nginx_tomcat_access"}
MW2_IDS = {"middleware.redis", "middleware.redis_overcommit", "middleware.rabbitmq", "middleware.mysql", "logs.redis",
           "logs.rabbitmq"}
WRONG_PASSWORD = "Wr0ng-mon1tor-pa55"
LAB_PASSWORD = "lab-monitor-secret"

PLAYBOOK = """\
- name: Middleware inspection
  hosts: all
  gather_facts: false
  roles:
    - kubeops.runbook.middleware_inspection
  tasks:
    - name: Save the findings on the controller
      ansible.builtin.copy:
        content: "{{ kubeops_findings | default([]) | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
"""


MODULE_PLAYBOOK = """\
- name: One module
  hosts: all
  gather_facts: false
  tasks:
    - name: Run the module
      {module}: "{{{{ module_args }}}}"
      register: result
      ignore_errors: true
    - name: Save the result on the controller
      ansible.builtin.copy:
        content: "{{{{ result | to_json }}}}"
        dest: "{{{{ out_dir }}}}/result.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
"""


def run_module(lab, tmp_path: Path, module: str, args: dict, check: bool = False, host: str = "mw1") -> dict:
    """Run one module on one host through ansible-playbook; return its registered result (with invocation)."""
    playbook = tmp_path / "module.yml"
    playbook.write_text(MODULE_PLAYBOOK.format(module=module))
    proc = lab.playbook(str(playbook), extra_vars={"out_dir": str(tmp_path), "module_args": args}, check=check,
                        limit=host)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    result["_output"] = proc.stdout + proc.stderr
    return result


# The log offsets of this module's role runs: its own state file on the hosts, so that the log findings judge only
# what the services wrote since this module's first run, not what a drill or a demo appended before.
STATE_FILE = "/var/lib/kubeops/itest-middleware-log-scan.json"


def run_role(lab, tmp_path: Path, check: bool, extra_vars: dict | None = None, limit: str = "mw1,mw2,spare1",
             extra_args: list[str] | None = None):
    playbook = tmp_path / "middleware.yml"
    playbook.write_text(PLAYBOOK)
    for old in tmp_path.glob("*.json"):
        old.unlink()
    extra = {"out_dir": str(tmp_path), "kubeops_middleware_log_state_file": STATE_FILE, **(extra_vars or {})}
    proc = lab.playbook(str(playbook), extra_vars=extra, check=check, limit=limit, extra_args=extra_args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    findings = {path.stem: json.loads(path.read_text()) for path in tmp_path.glob("*.json")}
    return proc, findings


@pytest.fixture(scope="module", autouse=True)
def log_baseline(lab, tmp_path_factory):
    """A first run of the role records where each middleware log ends (its own state file); the tests' runs then
    read what came after. That first run reads the logs' last 4 MiB: whatever the lab's history holds, redis's own
    start-up advice about vm.overcommit_memory is not counted there (redis_overcommit reports the setting)."""
    lab.ssh("mw1", f"rm -f {STATE_FILE}", check=False)
    lab.ssh("mw2", f"rm -f {STATE_FILE}", check=False)
    _proc, findings = run_role(lab, tmp_path_factory.mktemp("baseline"), False)
    redis_log = next((f for f in findings["mw2"] if f["id"] == "logs.redis"), None)
    assert redis_log is not None, findings["mw2"]
    assert not any("overcommit" in line.lower() for lines in redis_log["details"]["samples"].values() for line in lines), \
        redis_log
    yield findings
    lab.ssh("mw1", f"rm -f {STATE_FILE}", check=False)
    lab.ssh("mw2", f"rm -f {STATE_FILE}", check=False)


@pytest.mark.parametrize("check", [False, True], ids=["run", "check_mode"])
def test_each_host_checked_for_what_it_runs(lab, tmp_path, check):
    _proc, findings = run_role(lab, tmp_path, check)
    mw1 = {f["id"]: f for f in findings["mw1"]}
    mw2 = {f["id"]: f for f in findings["mw2"]}
    assert set(mw1) == MW1_IDS and set(mw2) == MW2_IDS
    assert [(f["host"], f["id"], f["status"], f["summary"]) for f in [*mw1.values(), *mw2.values()]
            if f["status"] != "ok"] == []
    assert all(f["host"] == "mw1" for f in mw1.values()) and all(f["host"] == "mw2" for f in mw2.values())
    assert mw1["middleware.nginx"]["details"]["probe"]["status"] == 200
    assert mw1["middleware.license_server"]["details"]["banner"] == "LICENSE-SERVER READY"
    assert mw2["middleware.rabbitmq"]["details"]["version"]
    assert mw2["middleware.rabbitmq"]["target"] == "rabbit@mw2"
    # the lab configures its redis host the way redis asks (lab/nodes.py HOST_SYSCTLS)
    assert mw2["middleware.redis_overcommit"]["details"]["value"] == "1"
    assert mw2["logs.redis"]["target"] == "/var/log/redis/redis-server.log"
    assert mw2["logs.rabbitmq"]["target"] == "/var/log/rabbitmq/rabbit@mw2.log"
    assert mw1["logs.nginx_developer_center_error"]["target"] == "/data/iuap/logs/nginx/developer-center_error.log"
    tomcat = mw1["logs.nginx_tomcat_access"]
    assert tomcat["target"] == "/data/iuap/logs/nginx/tomcat_access.*.log"
    assert tomcat["details"]["statuses"]["5xx"] == 0 and "percent_5xx" in tomcat["details"]
    assert findings["spare1"] == []  # declares no middleware: nothing checked


def test_checks_are_toggleable(lab, tmp_path):
    _proc, findings = run_role(lab, tmp_path, False, {"kubeops_middleware_checks": ["redis", "license_server"]})
    assert sorted(f["id"] for f in findings["mw1"]) == ["middleware.license_server"]
    assert sorted(f["id"] for f in findings["mw2"]) == ["logs.redis", "middleware.redis", "middleware.redis_overcommit"]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check_mode"])
def test_redis_stopped_is_critical(lab, tmp_path, check):
    with lab.unit_stopped("mw2", "redis-server"):
        result = run_module(lab, tmp_path, "kubeops.runbook.redis_info", {"login_port": 6379}, check=check, host="mw2")
    finding, overcommit = result["findings"]
    assert (finding["id"], finding["target"], finding["status"]) == ("middleware.redis", "redis:6379", "critical")
    assert (overcommit["id"], overcommit["status"]) == ("middleware.redis_overcommit", "ok")  # the host's setting
    assert "Connection refused" in finding["summary"]
    assert result["changed"] is False


@pytest.mark.parametrize("check", [False, True], ids=["run", "check_mode"])
def test_license_server_stopped_is_critical(lab, tmp_path, check):
    args = {"port": 7788, "banner": "LICENSE-SERVER READY", "timeout": 3}
    with lab.unit_stopped("mw1", "license-server"):
        result = run_module(lab, tmp_path, "kubeops.runbook.tcp_service_info", args, check=check)
    (finding,) = result["findings"]
    assert (finding["id"], finding["status"]) == ("middleware.license_server", "critical")
    assert finding["summary"] == "127.0.0.1:7788: connection refused"


def test_license_server_wrong_banner_is_warning(lab, tmp_path):
    result = run_module(lab, tmp_path, "kubeops.runbook.tcp_service_info", {"port": 7788, "banner": "FLEXLM READY", "timeout": 3})
    (finding,) = result["findings"]
    assert finding["status"] == "warning"
    assert "'LICENSE-SERVER READY', expected banner 'FLEXLM READY'" in finding["summary"]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check_mode"])
def test_wrong_mysql_password_says_authentication_failed_and_never_shows_it(lab, tmp_path, check):
    proc, findings = run_role(lab, tmp_path, check, {"kubeops_mysql_password": WRONG_PASSWORD,
                                                     "kubeops_middleware_checks": ["mysql"]}, limit="mw2",
                              extra_args=["-vvv"])
    (finding,) = findings["mw2"]
    assert finding["status"] == "critical"
    assert finding["summary"].startswith("authentication failed for user kubeops_monitor")
    # -vvv prints every module invocation with its arguments: the password must be masked there.
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout
    assert WRONG_PASSWORD not in proc.stdout + proc.stderr
    assert WRONG_PASSWORD not in json.dumps(findings)
    # The module called directly, its registered result and output: no password either.
    result = run_module(lab, tmp_path, "kubeops.runbook.mysql_info", {"login_user": "kubeops_monitor",
                                                                      "login_password": WRONG_PASSWORD}, check=check,
                        host="mw2")
    assert result["findings"][0]["status"] == "critical"
    assert WRONG_PASSWORD not in json.dumps(result) + result["_output"]
    # No option file is left behind on the host.
    assert lab.ssh("mw2", "ls /root/.ansible/tmp/*/kubeops-mysql-* 2>/dev/null | wc -l", check=False).stdout.strip() == "0"


def test_mysql_and_rabbitmq_details_are_real(lab, tmp_path):
    mysql = run_module(lab, tmp_path, "kubeops.runbook.mysql_info", {"login_user": "kubeops_monitor", "login_password": LAB_PASSWORD},
                       host="mw2")
    assert mysql["mysql"]["alive"] is True and mysql["mysql"]["uptime_seconds"] > 0
    assert LAB_PASSWORD not in json.dumps(mysql)
    rabbit = run_module(lab, tmp_path, "kubeops.runbook.rabbitmq_info", {"node": "rabbit@mw2", "expected_listeners": ["amqp", "http"]},
                        host="mw2")
    (finding,) = rabbit["findings"]
    assert (finding["target"], finding["status"]) == ("rabbit@mw2", "critical")
    assert "no listener for http" in finding["summary"]  # the management plugin is not enabled in the lab


def test_nginx_probe_of_a_missing_page_is_critical(lab, tmp_path):
    result = run_module(lab, tmp_path, "kubeops.runbook.nginx_info", {"probe_url": "http://127.0.0.1:81/healthz", "probe_timeout": 2})
    (finding,) = result["findings"]
    assert finding["status"] == "critical" and "GET http://127.0.0.1:81/healthz failed" in finding["summary"]
    assert result["nginx"]["config_test"]["ok"] is True


@pytest.mark.parametrize("module, args, message", [
    ("redis_info", {"memory_warning_percent": 150}, "memory_warning_percent: must be a percentage in (0, 100], got 150"),
    ("mysql_info", {"threads_warning": 500, "threads_critical": 100}, "threads_warning: 500 is above threads_critical"),
    ("tcp_service_info", {"port": 70000}, "port: must be a TCP port (1-65535), got 70000"),
    ("nginx_info", {"expected_status": [200, 1000]}, "expected_status: 1000 is not an HTTP status code"),
])
def test_bad_input_is_an_unknown_finding_with_one_line(lab, tmp_path, module, args, message):
    """The module refuses the value with one line; its action records that as an unknown finding (the check could
    not run) instead of failing the task, so the host's other checks still run."""
    result = run_module(lab, tmp_path, f"kubeops.runbook.{module}", args)
    assert not result.get("failed")
    finding = result["findings"][0]   # (redis_info: and its overcommit check, unknown as well)
    assert len(result["findings"]) == (2 if module == "redis_info" else 1)
    assert finding["status"] == "unknown" and finding["host"] == "mw1"
    assert finding["summary"] == f"check could not run: {result['msg']}"
    assert message in result["msg"] and "\n" not in result["msg"] and "Traceback" not in json.dumps(result)


ITEST_SITE = """server {
  listen 8089;
  error_log /var/log/nginx/kubeops-itest-error.log warn;
  access_log /data/iuap/logs/nginx/kubeops-itest-access.$server_port.log;
  location / { return 204; }
  location /broken { return 503; }
}
"""


def test_nginx_logs_come_from_nginx_itself(lab, tmp_path):
    """A server block added to nginx's configuration: its error_log is scanned on the next inspection without any
    inventory change, because the logs are the ones `nginx -T` declares."""
    lab.ssh("mw1", f"cat > /etc/nginx/conf.d/kubeops-itest.conf <<'EOF'\n{ITEST_SITE}EOF\nnginx -t && systemctl reload nginx")
    try:
        result = run_module(lab, tmp_path, "kubeops.runbook.nginx_info", {"probe_url": "http://127.0.0.1/healthz"})
        # real answers of that server, 60 of them 503: its access log's 5xx share is 60 %
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for path in ["/"] * 40 + ["/broken"] * 60:
            try:
                direct.open(f"http://{lab.hosts['mw1']}:8089{path}", timeout=5).close()
            except urllib.error.HTTPError as exc:
                assert exc.code == 503
        _proc, findings = run_role(lab, tmp_path, False, {"kubeops_middleware_checks": ["nginx"]}, limit="mw1")
    finally:
        lab.ssh("mw1", "rm -f /etc/nginx/conf.d/kubeops-itest.conf /data/iuap/logs/nginx/kubeops-itest-*.log "
                "&& systemctl reload nginx", check=False)
    logs = result["nginx"]["logs"]
    assert {"path": "/var/log/nginx/kubeops-itest-error.log", "name": "nginx_kubeops_itest_error"} in logs["error"]
    assert {"path": "/data/iuap/logs/nginx/developer-center_error.log", "name": "nginx_developer_center_error"} in logs["error"]
    # a path with a variable: nginx's workers create the file, a glob finds it
    assert {"path": "/data/iuap/logs/nginx/kubeops-itest-access.*.log", "name": "nginx_kubeops_itest_access"} in logs["access"]
    assert {"path": "/data/iuap/logs/nginx/tomcat_access.*.log", "name": "nginx_tomcat_access"} in logs["access"]
    by_id = {f["id"]: f for f in findings["mw1"]}
    assert by_id["logs.nginx_kubeops_itest_error"]["target"] == "/var/log/nginx/kubeops-itest-error.log"
    assert by_id["logs.nginx_developer_center_error"]["status"] == "ok"
    broken = by_id["logs.nginx_kubeops_itest_access"]
    assert broken["status"] == "critical", broken
    assert broken["details"]["requests"] == 100 and broken["details"]["statuses"]["5xx"] == 60
    assert broken["details"]["percent_5xx"] == 60.0
