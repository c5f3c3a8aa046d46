"""cert_expiry_info logic (plugins/module_utils/_certs.py) on certificates made with openssl and the lab's CAs."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _certs as C

FIX = Path(__file__).parent / "fixtures" / "certs"
NOW = dt.datetime(2026, 11, 22, 6, 0, 0, tzinfo=dt.timezone.utc)  # shortly after the fixtures were made


def fixture_bytes(name: str) -> bytes:
    """The bytes of fixture `name`; ca-der.crt (binary) is ca.pem converted to DER here, as `openssl x509 -outform DER` does."""
    if name == "ca-der.crt":
        return x509.load_pem_x509_certificate((FIX / "ca.pem").read_bytes()).public_bytes(Encoding.DER)
    return (FIX / name).read_bytes()


def real_openssl(pem: str) -> tuple[int, str, str]:
    proc = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-subject"], input=pem, capture_output=True,
                          text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("name, not_after, subject", [
    ("ca.openssl.txt", "2036-11-19T05:53:46", "CN = kubeops-test-ca"),
    ("leaf-20d.openssl.txt", "2026-12-12T05:53:46", "CN = kube-apiserver, O = kubeops-test"),
    ("lab-k8s-ca.openssl.txt", "2036-11-19T05:53:24", "CN = kubernetes-ca"),
])
def test_parse_openssl_enddate(name, not_after, subject):
    parsed = C.parse_openssl_enddate((FIX / name).read_text())
    assert parsed["not_after"].strftime("%Y-%m-%dT%H:%M:%S") == not_after
    assert parsed["not_after"].tzinfo is not None and parsed["subject"] == subject


@pytest.mark.parametrize("text", ["", "notAfter=garbage", (FIX / "truncated.openssl.stderr").read_text()])
def test_parse_openssl_enddate_bad(text):
    with pytest.raises(C.CertUnreadable):
        C.parse_openssl_enddate(text)


@pytest.mark.parametrize("name, kind", [
    ("ca.pem", "certificate"), ("bundle.pem", "certificate"), ("leaf-key.pem", "skip"), ("leaf.csr", "skip"),
    ("truncated.pem", "broken"), ("ca-der.crt", "broken"),
])
def test_classify(name, kind):
    assert C.classify(name, fixture_bytes(name)) == kind


@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
@pytest.mark.parametrize("name, days, status", [
    ("ca.pem", 3649, "ok"),
    ("leaf-20d.pem", 19, "warning"),
    ("leaf-5d.pem", 4, "critical"),
    ("bundle.pem", 19, "warning"),  # a bundle is as good as its first-expiring certificate
    ("lab-etcd-ca.pem", 3649, "ok"),
])
def test_checker_both_backends_agree(backend, name, days, status):
    checker = C.CertChecker(backend, "master1", 30, 7, real_openssl, now=NOW)
    checker.check_file(str(FIX / name))
    [item] = checker.findings
    assert item["id"] == "certificates.expiry" and item["status"] == status
    assert item["details"]["days_left"] == days
    if name == "bundle.pem":
        assert item["details"]["certificates"] == 2


def test_expired_is_critical():
    later = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    checker = C.CertChecker("cryptography", "m", 30, 7, now=later)
    checker.check_file(str(FIX / "leaf-5d.pem"))
    assert checker.findings[0]["status"] == "critical"
    assert checker.findings[0]["summary"].startswith("expired 35 day(s) ago")


def test_directory_walk_skips_keys_and_flags_broken(tmp_path):
    for name in ("ca.pem", "leaf-key.pem", "leaf.csr", "truncated.pem", "ca-der.crt"):
        (tmp_path / name).write_bytes(fixture_bytes(name))
    (tmp_path / "token.csv").write_text("abc,kubelet-bootstrap,10001\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(FIX / "leaf-20d.pem", sub / "kubelet.pem")
    (tmp_path / "loop").symlink_to(tmp_path)  # not followed
    checker = C.CertChecker("cryptography", "node1", 30, 7, now=NOW)
    checker.check_dir(str(tmp_path))
    got = {Path(f["target"]).name: f["status"] for f in checker.findings}
    assert got == {"ca.pem": "ok", "truncated.pem": "unknown", "ca-der.crt": "unknown", "kubelet.pem": "warning"}


@pytest.mark.parametrize("setup, summary", [
    ("missing", "does not exist"),
    ("empty", "no x509 certificate found under"),
    ("file", "is not a directory"),
])
def test_directory_problems_are_unknown(tmp_path, setup, summary):
    path = tmp_path / "ssl"
    if setup == "empty":
        path.mkdir()
    elif setup == "file":
        path.write_text("x")
    checker = C.CertChecker("cryptography", "h", 30, 7, now=NOW)
    checker.check_dir(str(path))
    [item] = checker.findings
    assert item["status"] == "unknown" and summary in item["summary"]


@pytest.mark.parametrize("warning, critical, message", [
    (5, 7, "warning_days: 5 is below critical_days 7"),
    (30, -1, "critical_days: must be 0 or more, got -1"),
])
def test_bad_thresholds(warning, critical, message):
    with pytest.raises(C.CertError, match=message):
        C.CertChecker("cryptography", "h", warning, critical)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_fuzz_pem_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("c") / "x.pem"
    path.write_bytes(data)
    checker = C.CertChecker("cryptography", "h", 30, 7, now=NOW)
    checker.check_file(str(path))
    assert all(f["status"] in ("ok", "warning", "critical", "unknown") for f in checker.findings)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=len((FIX / "bundle.pem").read_bytes())))
def test_fuzz_truncated_bundle(tmp_path_factory, cut):
    path = tmp_path_factory.mktemp("c") / "bundle.pem"
    path.write_bytes((FIX / "bundle.pem").read_bytes()[:cut])
    checker = C.CertChecker("cryptography", "h", 30, 7, now=NOW)
    checker.check_file(str(path))
    [item] = checker.findings
    assert item["status"] in ("warning", "unknown")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_openssl_output(text):
    try:
        C.parse_openssl_enddate(text)
    except C.CertUnreadable:
        pass
