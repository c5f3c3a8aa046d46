"""Peer tools the benchmark compares with, built or installed only when a bench run needs them.

Popeye: `go install github.com/derailed/popeye@latest` cannot resolve here (the proxy's version list is refused),
a pinned version can: bench/go/popeye is a wrapper module requiring github.com/derailed/popeye v0.22.1, built the
way the lab builds its binaries (lab/binaries.py) and cached by version under ~/.cache/kubeops-lab/popeye-<v>/.
kubernetes.core: extracted from the community `ansible` wheel into ~/.cache/kubeops-lab/collections-ansible-<v>/
(never into the repo or the shared virtualenv), for the naive playbook that runs one k8s_info task per kind.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from bench._measure import log

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KUBEOPS_LAB_CACHE", Path.home() / ".cache" / "kubeops-lab"))
POPEYE_MODULE = ROOT / "bench" / "go" / "popeye"
ANSIBLE_COMMUNITY_VERSION = "12.3.0"   # the community release built for ansible-core 2.19


class PeerUnavailable(RuntimeError):
    """A peer tool could not be built or installed here; the case reports it instead of a figure."""


def popeye_version() -> str:
    for line in (POPEYE_MODULE / "go.mod").read_text().splitlines():
        parts = line.split()
        if parts[:2] == ["require", "github.com/derailed/popeye"]:
            return parts[2]
    raise PeerUnavailable("bench/go/popeye/go.mod does not require github.com/derailed/popeye")


def ensure_popeye() -> Path:
    """The popeye binary, built once per version (~3-6 minutes on 2 cores)."""
    version = popeye_version()
    final = CACHE / f"popeye-{version}"
    binary = final / "popeye"
    if binary.is_file():
        return binary
    if not shutil.which("go"):
        raise PeerUnavailable("building Popeye needs Go (https://go.dev)")
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    logfile = CACHE / "logs" / f"build-popeye-{version}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    log(f"building Popeye {version} from bench/go/popeye (once; log {logfile})")
    # Popeye reports its version from main.version; set it as its release builds do.
    ldflags = f"-s -w -X github.com/derailed/popeye/cmd.version={version.lstrip('v')}"
    with open(logfile, "w") as fh:
        proc = subprocess.run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp / "popeye"),
                               "github.com/derailed/popeye"], cwd=POPEYE_MODULE, stdout=fh, stderr=subprocess.STDOUT,
                              env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false -mod=readonly"},
                              check=False)
    if proc.returncode != 0:
        raise PeerUnavailable(f"go build of Popeye {version} failed; see {logfile}")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return binary


def ensure_kubernetes_core() -> Path:
    """A collections path holding kubernetes.core (for the naive one-k8s_info-task-per-kind playbook).

    Galaxy is not reachable from every machine; PyPI is: the community package `ansible` (the release that matches
    our ansible-core) ships kubernetes.core, which is extracted from its wheel. Nothing is installed into the venv.
    """
    path = CACHE / f"collections-ansible-{ANSIBLE_COMMUNITY_VERSION}"
    manifest = path / "ansible_collections" / "kubernetes" / "core" / "MANIFEST.json"
    if manifest.is_file():
        return path
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"fetching kubernetes.core from the community package ansible {ANSIBLE_COMMUNITY_VERSION} (PyPI, once)")
    proc = subprocess.run([sys.executable, "-m", "pip", "download", f"ansible=={ANSIBLE_COMMUNITY_VERSION}", "--no-deps",
                           "-q", "-d", str(tmp)], capture_output=True, text=True, check=False, timeout=900)
    wheels = list(tmp.glob("ansible-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise PeerUnavailable(f"pip could not download ansible {ANSIBLE_COMMUNITY_VERSION}: "
                              f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    prefix = "ansible_collections/kubernetes/core/"
    with zipfile.ZipFile(wheels[0]) as whl:
        whl.extractall(tmp, [n for n in whl.namelist() if n.startswith(prefix)])
    wheels[0].unlink()
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path
