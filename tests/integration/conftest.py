"""Integration tests run against the lab (`make lab-up`): real systemd, sshd, etcd, kube-apiserver, BIRD, ...

Fixtures:
  lab          session-wide handle of the running lab (brought up once per session)
Use:
  lab.ssh("node1", "systemctl is-active kubelet")            -> CompletedProcess (text)
  lab.kubectl("get", "nodes", "-o", "json")                 -> CompletedProcess
  lab.module("mw1", "kubeops.runbook.disk_usage_info", {...}, check=False) -> dict (the module result)
  lab.playbook("playbooks/daily_inspection.yml", extra_vars={...}, check=False) -> CompletedProcess
  with lab.unit_stopped("master1", "kube-scheduler"): ...   (restarted and waited for afterwards)
  lab.host("mw1")                                           -> testinfra Host over paramiko (root, the lab key):
      lab.host("mw1").service("nginx").is_running, .file(p).mode == 0o600, .socket("tcp://0.0.0.0:80").is_listening,
      .package("nginx").version, .run("cmd") -> CommandResult (rc, stdout, stderr)
  Prefer lab.host(...) for assertions on a node's state (units, files, sockets, packages); lab.ssh for actions.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import testinfra

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab import api as lab_api  # noqa: E402  (the lab's own Python package)
from lab.util import lab_lock  # noqa: E402


# The controller-side state a run reads as well as writes: the inspection history (pod restart baselines, what is new
# since the last run) and the audit log (the unit restart limit counts from it). Their defaults are under ./reports
# of the checkout, where `make demo` and a user's runs keep theirs; a test that does not name them gets its own empty
# ones, so no test sees what a drill, a demo or an earlier test left there.
def isolated(extra_vars: dict | None, scratch: Path) -> dict:
    """extra_vars with a fresh report directory (history) and audit log in ``scratch`` for those the test left out."""
    out = dict(extra_vars or {})
    out.setdefault("inspection_report_dir", str(scratch / "reports"))
    out.setdefault("kubeops_audit_log", str(scratch / "reports" / "audit.log"))
    return out


class Lab:
    def __init__(self, info: lab_api.LabInfo):
        self.info = info
        self.root = ROOT
        self.inventory = info.inventory
        self.kubeconfig = info.kubeconfig
        self.key = info.key
        self.hosts = info.hosts  # name -> address
        self.kubectl_bin = info.kubectl
        self._ssh_config: Path | None = None

    # -- raw access -------------------------------------------------------------------------------------
    def ssh(self, host: str, command: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
        cmd = ["ssh", "-i", str(self.key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               f"root@{self.hosts[host]}", command]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)

    def host(self, name: str) -> testinfra.host.Host:
        """A testinfra host for a lab node, over testinfra's paramiko backend (one cached connection per node).

        The lab's nodes are rebuilt with new host keys, so their keys are not checked (as with lab.ssh)."""
        if self._ssh_config is None:
            fd, path = tempfile.mkstemp(prefix="kubeops-itest-", suffix=".ssh_config")
            with os.fdopen(fd, "w") as f:
                f.write("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
            self._ssh_config = Path(path)
        return testinfra.get_host(f"paramiko://root@{self.hosts[name]}", ssh_identity_file=str(self.key),
                                  ssh_config=str(self._ssh_config), timeout=30)

    def close(self) -> None:
        if self._ssh_config is not None:
            self._ssh_config.unlink(missing_ok=True)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.kubectl_bin), "--kubeconfig", str(self.kubeconfig), *args],
                              capture_output=True, text=True, check=check, timeout=120)

    def create_namespace(self, name: str) -> None:
        """Create a namespace and wait for its ``default`` ServiceAccount. Pods created directly (not through a
        controller that retries) are refused until the service account controller has made it."""
        self.kubectl("create", "namespace", name)
        self.wait(lambda: self.kubectl("-n", name, "get", "serviceaccount", "default", check=False).returncode == 0,
                  f"ServiceAccount default in namespace {name}", 60, 0.5)

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "ANSIBLE_CONFIG": str(ROOT / "lab" / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build"),
            "ANSIBLE_PRIVATE_KEY_FILE": str(self.key),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
        })
        return env

    # -- Ansible ------------------------------------------------------------------------------------------
    def module(self, host: str, module: str, args: dict | None = None, check: bool = False,
               extra_vars: dict | None = None, env: dict | None = None) -> dict:
        """Run one module on one inventory host (or 'localhost') and return its result dict.

        Uses ad-hoc `ansible --tree`, whose tree callback (ansible-core's own) saves each host's result as JSON.
        ``env`` is added to the environment of ansible (and so of modules that run on the controller); a value None
        removes that variable.
        """
        with tempfile.TemporaryDirectory(prefix="kubeops-itest-") as tree:
            cmd = [str(ROOT / ".venv/bin/ansible"), host, "-i", str(self.inventory), "-m", module, "--tree", tree]
            if args:
                cmd += ["-a", json.dumps(args)]
            if check:
                cmd.append("--check")
            cmd += ["-e", json.dumps(isolated(extra_vars, Path(tree) / "controller"))]
            environment = self.env()
            for name, value in (env or {}).items():
                if value is None:
                    environment.pop(name, None)
                else:
                    environment[name] = value
            proc = subprocess.run(cmd, capture_output=True, text=True, env=environment, cwd=ROOT, timeout=600, check=False)
            out = Path(tree) / host
            if not out.exists():
                raise AssertionError(f"no result for {host} (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
            result = json.loads(out.read_text())
            # The saved result lacks the failed/unreachable flags; ansible's exit code carries them.
            result.setdefault("failed", proc.returncode == 2)
            result.setdefault("unreachable", proc.returncode == 4)
            return result

    def playbook(self, playbook: str, extra_vars: dict | None = None, check: bool = False,
                 limit: str | None = None, extra_args: list[str] | None = None,
                 env: dict | None = None) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory(prefix="kubeops-itest-") as scratch:
            cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(self.inventory), str(ROOT / playbook),
                   "-e", json.dumps(isolated(extra_vars, Path(scratch)))]
            if check:
                cmd.append("--check")
            if limit:
                cmd += ["--limit", limit]
            cmd += extra_args or []
            return subprocess.run(cmd, capture_output=True, text=True, env={**self.env(), **(env or {})}, cwd=ROOT,
                                  timeout=1800, check=False)

    # -- faults -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def unit_stopped(self, host: str, unit: str, settle: float = 0):
        """Stop a unit for the duration of the block; start it again and wait until it is active."""
        self.ssh(host, f"systemctl stop {unit}")
        try:
            if settle:
                time.sleep(settle)
            yield
        finally:
            self.ssh(host, f"systemctl start {unit}", check=False)
            self.wait(lambda: self.ssh(host, f"systemctl is-active {unit}", check=False).stdout.strip() == "active",
                      f"{unit} active again on {host}")
            if unit in ("kubelet", "kubelet.service"):
                lab_api.resync_pods(host)

    @staticmethod
    def wait(predicate, what: str, timeout: float = 120, interval: float = 2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for: {what}")


@pytest.fixture(scope="session")
def lab():
    """The running lab; brings it up (idempotent) when it is not. The session holds the lab lock, so another
    test run or `lab up/down` on this machine waits instead of changing the lab under these tests."""
    with lab_lock():
        handle = Lab(lab_api.ensure_up())
        try:
            yield handle
        finally:
            handle.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "mutates_lab: changes the lab for good (e.g. joins spare1); runs after the rest")


def pytest_collection_modifyitems(session, config, items):
    """Tests that change the lab's shape run last, so every other test sees the lab as `make lab-up` made it."""
    items.sort(key=lambda item: item.get_closest_marker("mutates_lab") is not None)
