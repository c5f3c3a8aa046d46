"""The report role for real on the controller, without the lab: ansible-playbook runs the role on localhost.

Findings are put on hosts with set_fact (as the inspection roles do), one host is unreachable (198.18.0.99 in the
lab range, nothing answers there), and a webhook receiver on 127.0.0.1 records what the notification posts.
"""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

PLAYBOOK = """
- name: Pretend to inspect
  hosts: all
  gather_facts: false
  tasks:
    - name: Record when the inspection started and which hosts it targets
      ansible.builtin.set_fact:
        kubeops_inspection_started: "{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ') }}"
        kubeops_inspection_targeted: "{{ ansible_play_hosts_all }}"
      delegate_to: localhost
      delegate_facts: true
      run_once: true
    - name: Gather facts, noting hosts that do not answer
      ansible.builtin.setup:
        gather_subset: [min]
      ignore_unreachable: true
      register: kubeops_inspection_gather
    - name: Leave unreachable hosts to the report
      ansible.builtin.meta: end_host
      when: kubeops_inspection_gather.unreachable | default(false)
    - name: Record findings
      ansible.builtin.set_fact:
        kubeops_findings: "{{ (kubeops_findings | default([])) + host_findings }}"
        kubeops_inspection_done: true

- name: Report
  hosts: localhost
  gather_facts: false
  roles:
    - role: kubeops.runbook.report
"""


def inventory(tmp: Path, status: str) -> Path:
    path = tmp / "hosts.yml"
    finding = {"id": "disk.space", "category": "disk", "target": "/data/iuap/logs/nginx", "host": "fake1",
               "status": status, "summary": "<script>alert(1)</script> 磁盘 97% used", "details": {}}
    path.write_text(yaml.safe_dump({"all": {
        "hosts": {
            "fake1": {"ansible_connection": "local", "ansible_python_interpreter": str(ROOT / ".venv/bin/python"),
                      "host_findings": [finding]},
            "ghost": {"ansible_host": "198.18.0.99", "ansible_ssh_common_args": "-o ConnectTimeout=3",
                      "host_findings": []},
        },
        "vars": {"kubeops_cluster_name": "localtest", "inspection_report_dir": str(tmp / "reports")},
    }}, allow_unicode=True))
    return path


def run(tmp: Path, status: str = "critical", **extra) -> subprocess.CompletedProcess:
    (tmp / "pb.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "lab" / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"))
    cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(inventory(tmp, status)), str(tmp / "pb.yml"),
           "-e", json.dumps(extra)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"errcode": 0}')

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Receiver.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/robot/send?access_token=SECRET-TOKEN-123", Receiver.received
    server.shutdown()


def test_report_role_writes_everything(tmp_path):
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = tmp_path / "reports"
    names = sorted(p.name for p in reports.iterdir())
    assert "latest.json" in names and "history.sqlite" in names
    assert len([n for n in names if n.startswith("inspection-")]) == 3
    data = json.loads((reports / "latest.json").read_text(encoding="utf-8"))
    assert data["schema"] == "kubeops.runbook/inspection/v1" and data["cluster"] == "localtest"
    got = {(f["id"], f["target"]): f["status"] for f in data["findings"]}
    assert got == {("host.reachable", "fake1"): "ok", ("host.reachable", "ghost"): "critical",
                   ("disk.space", "/data/iuap/logs/nginx"): "critical"}
    ghost = next(f for f in data["findings"] if f["target"] == "ghost")
    assert ghost["details"]["reason"] == "unreachable"
    html = next(reports.glob("inspection-*.html")).read_text(encoding="utf-8")
    assert "<script>" not in html and "磁盘 97% used" in html


def test_second_run_has_nothing_new(tmp_path):
    assert run(tmp_path).returncode == 0
    assert run(tmp_path).returncode == 0
    data = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert data["new_since_last"] == [] and data["previous"]["status"] == "critical"
    proc = run(tmp_path, status="ok")
    data = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert data["resolved_since_last"] == ["disk.space:/data/iuap/logs/nginx@fake1"], proc.stdout


def test_fail_on_fails_after_writing(tmp_path):
    proc = run(tmp_path, inspection_fail_on="critical")
    assert proc.returncode == 2
    assert "inspection_fail_on=critical" in proc.stdout
    assert (tmp_path / "reports" / "latest.json").is_file()


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "generic"])
def test_notification(tmp_path, webhook, kind):
    url, received = webhook
    proc = run(tmp_path, inspection_notify_url=url, inspection_notify_kind=kind)
    assert proc.returncode == 0, proc.stdout
    assert len(received) == 1
    body = received[0]["body"]
    if kind == "dingtalk":
        assert body["msgtype"] == "markdown" and body["markdown"]["text"].startswith("### Inspection localtest: CRITICAL")
    elif kind == "wecom":
        assert body["msgtype"] == "markdown" and "host.reachable ghost" in body["markdown"]["content"]
    else:
        assert body["summary"]["critical"] == 2 and body["cluster"] == "localtest"
    # the robot token is never printed
    assert "SECRET-TOKEN-123" not in proc.stdout + proc.stderr
    assert "notification (" + kind + "): sent" in proc.stdout


def test_no_notification_below_threshold(tmp_path, webhook):
    url, received = webhook
    proc = run(tmp_path, status="warning", inspection_notify_url=url, inspection_notify_on="never")
    assert proc.returncode == 0 and received == []
