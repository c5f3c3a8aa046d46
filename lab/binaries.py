"""The lab's binaries: Kubernetes built from the wrapper Go module in lab/go/k8s, kwok from its module.
Built once and cached by version under ~/.cache/kubeops-lab/; KUBEOPS_LAB_BIN_DIR names ready binaries
(e.g. an official release unpacked) and then nothing is built."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from . import config
from .util import LabError, log, replace_dir, run, run_logged

K8S_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubectl")
ALL = K8S_COMMANDS + ("kwok",)
GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false -mod=readonly"}


def _ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}", f"-X {pkg}.gitMinor={minor}",
                  f"-X {pkg}.gitTreeState=clean", f"-X {pkg}.buildDate=1970-01-01T00:00:00Z"]
    return " ".join(flags)


def _wrapper_version() -> str:
    """The k8s.io/kubernetes version the wrapper module pins (its go.mod is the source of truth)."""
    for line in (config.REPO / "lab/go/k8s/go.mod").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["require"]:
            parts = parts[1:]
        if len(parts) >= 2 and parts[0] == "k8s.io/kubernetes" and parts[1].startswith("v"):
            return parts[1]
    raise LabError("lab/go/k8s/go.mod does not require k8s.io/kubernetes")


def ensure_k8s() -> Path:
    version = _wrapper_version()
    if version != config.K8S_VERSION:
        raise LabError(f"lab/go/k8s/go.mod pins {version} but lab/config.py says {config.K8S_VERSION}")
    final = config.CACHE / f"k8s-{version}"
    if all((final / c).is_file() for c in K8S_COMMANDS):
        return final
    if not shutil.which("go"):
        raise LabError("building the Kubernetes binaries needs Go (https://go.dev) or KUBEOPS_LAB_BIN_DIR")
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"building Kubernetes {version} ({', '.join(K8S_COMMANDS)}) from lab/go/k8s — "
        "a cold build takes 8-30 minutes on 2 cores, once; later runs use the cache")
    run_logged(["go", "build", "-trimpath", "-tags", "selinux,notest", "-ldflags", _ldflags(version), "-o", f"{tmp}/",
                *[f"k8s.io/kubernetes/cmd/{c}" for c in K8S_COMMANDS]],
               config.CACHE / "logs" / f"build-k8s-{version}.log", f"go build Kubernetes {version}",
               env=GO_ENV, cwd=config.REPO / "lab/go/k8s")
    got = run([tmp / "kube-apiserver", "--version"], capture=True).stdout.strip()
    if not got.endswith(version):
        raise LabError(f"built kube-apiserver reports {got!r}, expected {version}")
    replace_dir(tmp, final)
    return final


def ensure_kwok() -> Path:
    final = config.CACHE / f"kwok-{config.KWOK_VERSION}"
    if (final / "kwok").is_file():
        return final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"building kwok {config.KWOK_VERSION} (plays each node's kubelet; ~2-5 minutes, once)")
    run_logged(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", f"{tmp}/", "sigs.k8s.io/kwok/cmd/kwok"],
               config.CACHE / "logs" / f"build-kwok-{config.KWOK_VERSION}.log", f"go build kwok {config.KWOK_VERSION}",
               env=GO_ENV, cwd=config.REPO / "lab/go/kwok")
    replace_dir(tmp, final)
    return final


def ensure_bin_dir() -> Path:
    """A folder with every binary the nodes run, bind-mounted read-only at /app/kubernetes/server/bin."""
    ready = os.environ.get("KUBEOPS_LAB_BIN_DIR")
    if ready:
        path = Path(ready).resolve()
        missing = [c for c in ALL if not (path / c).is_file()]
        if missing:
            raise LabError(f"KUBEOPS_LAB_BIN_DIR={ready} lacks {', '.join(missing)}")
        log(f"using ready binaries from KUBEOPS_LAB_BIN_DIR={path}")
        return path
    k8s = ensure_k8s()
    kwok = ensure_kwok()
    final = config.CACHE / f"bin-{config.K8S_VERSION}-kwok-{config.KWOK_VERSION}"
    if all((final / c).is_file() for c in ALL):
        return final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for c in K8S_COMMANDS:
        os.link(k8s / c, tmp / c)
    os.link(kwok / "kwok", tmp / "kwok")
    replace_dir(tmp, final)
    return final
