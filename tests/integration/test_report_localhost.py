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

import junitparser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families


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


def run(tmp: Path, status: str = "critical", *options: str, **extra) -> subprocess.CompletedProcess:
    (tmp / "pb.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "lab" / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"))
    cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(inventory(tmp, status)), str(tmp / "pb.yml"),
           "-e", json.dumps(extra), *options]
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
    proc = run(tmp_path, "warning", inspection_fail_on="warning", inspection_junit_file=str(tmp_path / "junit.xml"))
    assert proc.returncode == 2
    assert "inspection_fail_on=warning" in proc.stdout
    assert (tmp_path / "reports" / "latest.json").is_file()
    # the JUnit file is written before the play fails, with failures at inspection_fail_on
    suite = next(iter(junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))))
    props = {p.name: p.value for p in suite.properties()}
    assert props["fail_on"] == "warning" and suite.failures == 2      # the warning disk and the unreachable ghost


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


def test_prometheus_textfile_and_junit_file(tmp_path):
    textfile_dir = tmp_path / "node-exporter"
    textfile_dir.mkdir()
    proc = run(tmp_path, inspection_prometheus_textfile=str(textfile_dir / "kubeops_inspection.prom"),
               inspection_junit_file=str(tmp_path / "ci" / "junit.xml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families((textfile_dir / "kubeops_inspection.prom").read_text())
               for s in family.samples}
    assert samples[("kubeops_inspection_finding", (("check", "host.reachable"), ("cluster", "localtest"), ("host", "ghost"),
                                                   ("silenced", "false"), ("status", "critical"), ("target", "ghost")))] == 1
    assert samples[("kubeops_inspection_findings", (("cluster", "localtest"), ("status", "critical")))] == 2
    suite = next(iter(junitparser.JUnitXml.fromfile(str(tmp_path / "ci" / "junit.xml"))))
    # inspection_fail_on is never (the default): the JUnit file fails the criticals
    assert (suite.tests, suite.failures) == (3, 2)
    assert sorted(p.name for p in textfile_dir.iterdir()) == ["kubeops_inspection.prom"]
    # the outcome names both files (AWX artifacts)
    latest = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert latest["summary"]["critical"] == 2


def test_prometheus_textfile_in_a_missing_directory_fails_in_one_line(tmp_path):
    proc = run(tmp_path, inspection_prometheus_textfile=str(tmp_path / "nowhere" / "kubeops.prom"))
    assert proc.returncode == 2
    assert f"the Prometheus textfile's directory {tmp_path}/nowhere does not exist" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def mail_vars(server, **more) -> dict:
    return {"inspection_notify_kind": "email", "inspection_mail_host": server.host, "inspection_mail_port": server.port,
            "inspection_mail_username": server.user, "inspection_mail_password": server.password,
            "inspection_mail_from": server.user, "inspection_mail_to": ["ops@example.com"],
            "inspection_mail_ca_path": server.ca_path, **more}


def test_mail_notification_with_starttls(tmp_path, mail_server):
    """The password as a user keeps it: an Ansible Vault variable in a vars file."""
    server = mail_server()
    (tmp_path / "vault-pass").write_text("kubeops-test-vault\n")
    encrypted = subprocess.run([str(ROOT / ".venv/bin/ansible-vault"), "encrypt_string", "--vault-password-file",
                                str(tmp_path / "vault-pass"), "--name", "inspection_mail_password", server.password],
                               capture_output=True, text=True, check=True).stdout
    assert server.password not in encrypted
    (tmp_path / "secrets.yml").write_text(encrypted)
    settings = mail_vars(server, inspection_mail_attach_report=True)
    del settings["inspection_mail_password"]
    proc = run(tmp_path, "critical", "-vv", "-e", f"@{tmp_path / 'secrets.yml'}", "--vault-password-file",
               str(tmp_path / "vault-pass"), **settings)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert server.logins == [(server.user, True)]
    (envelope,) = server.envelopes
    assert envelope["tls"] and envelope["to"] == ["ops@example.com"]
    (mail,) = server.messages
    assert mail["Subject"] == "Inspection localtest: CRITICAL"
    assert mail.get_body(("plain",)).get_content().startswith("### Inspection localtest: CRITICAL")
    (report,) = list(mail.iter_attachments())
    assert report.get_filename().startswith("inspection-") and "磁盘 97% used" in report.get_content()
    assert "main notification (email): sent to ops@example.com" in proc.stdout
    assert server.password not in proc.stdout + proc.stderr


def test_mail_that_fails_is_reported_not_fatal_and_hides_the_password(tmp_path, mail_server):
    server = mail_server()
    proc = run(tmp_path, "critical", "-vv", **mail_vars(server, inspection_mail_password="wrong-" + server.password))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert server.messages == [] and set(server.logins) == {(server.user, False)}     # smtplib tries PLAIN, then LOGIN
    shown = " ".join(proc.stdout.split())                           # the callback folds long lines
    assert f"NOT sent: mail server 127.0.0.1:{server.port} refused the login of {server.user}: 535" in shown
    assert server.password not in proc.stdout + proc.stderr


def test_mail_route(tmp_path, mail_server):
    server = mail_server()
    rules = {"routes": [{"name": "storage", "match": "[?category=='disk']"}]}
    proc = run(tmp_path, **mail_vars(server, inspection_notify_kind="generic", inspection_rules=rules,
                                     inspection_notify_routes={"storage": {"kind": "email", "to": ["storage@example.com"]}}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (mail,) = server.messages
    assert mail["To"] == "storage@example.com"
    text = mail.get_body(("plain",)).get_content()
    assert "disk.space" in text and "host.reachable" not in text


MERGE_PLAY = """
- name: Merge the slices
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write the report of the slices
      kubeops.runbook.inspection_report:
        cluster: lab
        report_dir: "{{ out }}"
        slice_dir: "{{ slices }}"
        merge: true
        collect_hostvars: false
        expected_hosts: [master1, node1, node2, mw1]
"""


def test_merge_whose_inventory_lacks_the_slices_hosts(tmp_path):
    """The merge job's inventory need not hold the slices' hosts (here only localhost): the report is written from
    the partials (ansible-core 2.19 failed on reading an unknown host's variables: 'A required TemplateContext context
    is not active')."""
    from ansible_collections.kubeops.runbook.plugins.plugin_utils import _slices  # pylint: disable=import-outside-toplevel
    fixture = json.loads((ROOT / "tests/unit/fixtures/report/lab_latest.json").read_text())
    findings = [f for f in fixture["findings"] if f["id"] != "host.reachable"]
    slices = tmp_path / "slices"
    slices.mkdir()
    for n, hosts in enumerate((("master1", "node1"), ("node2", "mw1"))):
        doc = _slices.partial("lab", fixture["started"][:-3] + f"{n:02d}Z", fixture["finished"],
                              {h: ("reachable", "") for h in hosts}, [f for f in findings if f.get("host") in hosts])
        (slices / _slices.partial_name(doc)).write_text(json.dumps(doc))
    (tmp_path / "merge.yml").write_text(MERGE_PLAY)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "lab" / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"))
    proc = subprocess.run([str(ROOT / ".venv/bin/ansible-playbook"), "-i", "localhost,", str(tmp_path / "merge.yml"),
                           "-e", json.dumps({"out": str(tmp_path / "reports"), "slices": str(slices)})],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads((tmp_path / "reports" / "latest.json").read_text(encoding="utf-8"))
    hosts = {f["host"] for f in report["findings"] if f["id"] == "host.reachable"}
    assert hosts == {"master1", "node1", "node2", "mw1"}
    assert len(report["findings"]) == len([f for f in findings if f.get("host") in hosts]) + 4
