"""The playbooks as AWX runs a job: through ansible-runner, from a private data directory shaped like AWX's.

AWX (and Automation Platform) never calls ansible-playbook itself: it lays out a private data directory and hands it
to ansible-runner inside the execution environment. This test does the same on the controller, against the lab:

  project/                      a copy of the repository at this commit (AWX's project checkout), run from there with
                                the repository's own ansible.cfg (host keys checked)
  requirements_collections/     what the project sync installed: collections/requirements.yml
  inventory/hosts               the inventory as AWX writes it: an executable that prints the JSON of the inventory
                                source (inventories/lab), without the SSH user and key
  env/extravars                 the job template's extra variables (docs/awx/daily_inspection.yml) and the kubeconfig
                                credential's injected ones: kubeops_kubeconfig, and the Context field left empty ("")
  env/envvars                   the credential's KUBECONFIG and K8S_AUTH_KUBECONFIG, AWX's job settings
                                (collections path, control path, the nodes' known_hosts through ANSIBLE_SSH_ARGS)
  env/ssh_key, -u root          the Machine credential (ansible-runner loads the key into an ssh-agent)
  env/tmp...                    the kubeconfig credential's file (0600)

and reads what AWX reads back: the job's status and return code, the playbook_on_stats event's artifact_data (the
set_stats artifacts, kubeops_inspection / kubeops_incident), and the report or record they point at.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import ansible_runner
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
JOB_TEMPLATE = yaml.safe_load((ROOT / "docs" / "awx" / "daily_inspection.yml").read_text())["job_templates"][0]


def sh(*cmd: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env={**clean, **(env or {})}, timeout=600,
                          **kwargs)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict:
    """The project checkout and its synced collections, shared by the jobs of this module (AWX syncs once)."""
    base = tmp_path_factory.mktemp("awx-project")
    checkout = base / "project"
    files = sh("git", "ls-files", "-co", "--exclude-standard", cwd=ROOT).stdout
    sh("rsync", "-a", "--files-from=-", f"{ROOT}/", f"{checkout}/", input=files)
    collections = base / "requirements_collections"
    # the job's collections path is the only one, as in AWX (a copy in ~/.ansible/collections must not satisfy it)
    sh(str(BIN / "ansible-galaxy"), "collection", "install", "-r", "collections/requirements.yml", "-p", str(collections),
       cwd=checkout, env={"ANSIBLE_COLLECTIONS_PATH": str(collections)})
    assert (collections / "ansible_collections" / "kubeops" / "runbook" / "MANIFEST.json").is_file()
    return {"checkout": checkout, "collections": collections}


def private_data_dir(lab, project: dict, tmp: Path, extra_vars: dict) -> tuple[Path, dict]:
    """A private data directory as AWX lays it out for one job; returns it and the job's persistent storage."""
    pdd = tmp / "runner"
    (pdd / "env").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    os.symlink(project["checkout"], pdd / "project")
    os.symlink(project["collections"], pdd / "requirements_collections")
    persistent = tmp / "var-lib-kubeops"                # "Paths to expose to isolated jobs"

    # The inventory source, as AWX's inventory update imported it: hosts, groups and variables, without the
    # connection user and key (they come from the Machine credential).
    listed = json.loads(sh(str(BIN / "ansible-inventory"), "-i", str(lab.inventory), "--list", "--export").stdout)
    for name in ("ansible_user", "ansible_ssh_private_key_file", "kubeops_kubeconfig"):
        for variables in [*listed["_meta"]["hostvars"].values(), *(g.get("vars", {}) for g in listed.values())]:
            variables.pop(name, None)
    script = pdd / "inventory" / "hosts"
    script.write_text(f"#!{BIN / 'python'}\nprint({json.dumps(json.dumps(listed))})\n")
    script.chmod(0o700)

    # The kubeconfig credential: its file injector, then its extra_vars and env injectors.
    fd, kubeconfig = tempfile.mkstemp(prefix="tmp", dir=pdd / "env")
    with os.fdopen(fd, "w") as handle:
        handle.write(Path(lab.kubeconfig).read_text())
    os.chmod(kubeconfig, 0o600)
    (pdd / "env" / "ssh_key").write_text(Path(lab.key).read_text())
    (pdd / "env" / "ssh_key").chmod(0o600)

    known_hosts = pdd / "known_hosts"                    # the nodes' host keys, on a path the job mounts
    scanned = subprocess.run(["ssh-keyscan", "-T", "5", *lab.hosts.values()], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    known_hosts.write_text(scanned)
    assert len(scanned.splitlines()) >= len(lab.hosts)

    job_vars = yaml.safe_load(JOB_TEMPLATE["extra_vars"])
    job_vars = {k: v.replace("/var/lib/kubeops", str(persistent)) if isinstance(v, str) else v
                for k, v in job_vars.items()}
    extravars = {**job_vars, **extra_vars,
                 "kubeops_kubeconfig": kubeconfig, "kubeops_kube_context": "",        # the credential's injectors
                 "awx_job_id": 4711, "awx_job_template_name": JOB_TEMPLATE["name"], "awx_project_revision": "test"}
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (pdd / "env" / "envvars").write_text(yaml.safe_dump({
        "KUBECONFIG": kubeconfig, "K8S_AUTH_KUBECONFIG": kubeconfig,
        "ANSIBLE_COLLECTIONS_PATH": f"{pdd / 'requirements_collections'}",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(pdd / "cp"),
        "ANSIBLE_SSH_ARGS": f"-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={known_hosts}",
        "ANSIBLE_FORCE_COLOR": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "JOB_ID": "4711", "AWX_PRIVATE_DATA_DIR": str(pdd),
    }))
    return pdd, {"dir": persistent, "kubeconfig": kubeconfig}


def run_job(pdd: Path, playbook: str, *options: str) -> ansible_runner.Runner:
    # ansible-runner's own process environment: none of the tests' settings (lab/ansible.cfg, the .build collection
    # tree on PYTHONPATH, where ansible would find the collection too) leak into the job
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ANSIBLE_") or k == "PYTHONPATH"}
    saved["PATH"] = os.environ["PATH"]
    os.environ["PATH"] = f"{BIN}:{saved['PATH']}"        # ansible-playbook on the PATH, as in the image
    try:
        return ansible_runner.run(private_data_dir=str(pdd), playbook=playbook, inventory=str(pdd / "inventory"),
                                  cmdline=" ".join(("-u", "root", *options)), ident="4711", quiet=True, timeout=900)
    finally:
        os.environ.update(saved)


def artifacts(runner: ansible_runner.Runner) -> dict:
    """What AWX stores as the job's artifacts: set_stats data, from the playbook_on_stats event."""
    stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1
    return stats[0]["event_data"]["artifact_data"]


def job_output(runner: ansible_runner.Runner) -> str:
    return Path(runner.config.artifact_dir, "stdout").read_text()


def test_daily_inspection_as_an_awx_job(lab, project, tmp_path):
    pdd, storage = private_data_dir(lab, project, tmp_path, {
        "inspection_prometheus_textfile": str(tmp_path / "kubeops_inspection.prom")})
    runner = run_job(pdd, "playbooks/daily_inspection.yml")
    out = job_output(runner)
    assert (runner.status, runner.rc) == ("successful", 0), out[-3000:]
    assert Path(runner.config.artifact_dir, "status").read_text() == "successful"
    # it ran as AWX runs it: from the project (so with its ansible.cfg), no ANSIBLE_CONFIG from outside
    command = json.loads(Path(runner.config.artifact_dir, "command").read_text())
    assert Path(command["cwd"]).resolve() == project["checkout"].resolve(), command["cwd"]
    assert "ANSIBLE_CONFIG" not in command.get("env", {})
    stats = artifacts(runner)["kubeops_inspection"]
    assert stats["cluster"] == "lab" and stats["hosts"] == {"targeted": 5, "inspected": 5}
    report = stats["report"]
    assert all(Path(report[k]).is_file() and Path(report[k]).is_relative_to(storage["dir"])
               for k in ("json", "markdown", "html", "latest")), report
    latest = json.loads(Path(report["latest"]).read_text())
    assert stats["status"] == latest["summary"]["status"] and stats["summary"] == latest["summary"]
    assert stats["findings"] == len(latest["findings"]) > 50
    # the cluster checks read the API through the credential's file, the empty Context being its current context
    k8s = [f for f in latest["findings"] if f["category"] in ("nodes", "deployments", "pods", "services")]
    assert k8s and not [f for f in k8s if f["status"] == "unknown"], [f["summary"] for f in k8s if f["status"] == "unknown"]
    assert Path(report["prometheus"]).is_file()
    key = yaml.safe_load(Path(storage["kubeconfig"]).read_text())["users"][0]["user"]["client-key-data"]
    assert key[-60:] not in out and key[-60:] not in json.dumps(list(runner.events))      # the credential stays secret


def test_incident_runbook_in_check_mode_as_an_awx_job(lab, project, tmp_path):
    pdd, storage = private_data_dir(lab, project, tmp_path, {})
    before = json.loads(lab.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    runner = run_job(pdd, "playbooks/incident_k8s_unreachable.yml", "--check", "--diff")
    out = job_output(runner)
    assert (runner.status, runner.rc) == ("successful", 0), out[-3000:]
    incident = artifacts(runner)["kubeops_incident"]
    assert incident["runbook"] == "incident_k8s_unreachable" and incident["check_mode"] is True
    assert incident["problems"] == [] and incident["cluster"] == "lab"
    record = json.loads(Path(incident["record"]["json"]).read_text())
    assert Path(incident["record"]["html"]).is_relative_to(storage["dir"])
    assert record["check_mode"] is True and record["summary"] == incident["summary"]
    assert incident["status"] == record["summary"]["status"]
    after = json.loads(lab.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    assert sorted(p["metadata"]["uid"] for p in after) == sorted(p["metadata"]["uid"] for p in before)
    assert stat.S_IMODE(os.stat(storage["kubeconfig"]).st_mode) == 0o600
