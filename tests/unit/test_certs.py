"""cert_expiry_info logic (plugins/module_utils/_certs.py) on certificates made with openssl and the lab's CAs."""
from __future__ import annotations

import datetime as dt
import json
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


# -- client certificates in kubeconfigs ------------------------------------------------------------------------
KUBE = FIX / "kubeconfig"
KUBE_NOW = dt.datetime(2026, 12, 6, 17, 0, 0, tzinfo=dt.timezone.utc)  # shortly after these fixtures were made


def real_openssl_issuer(pem: str) -> tuple[int, str, str]:
    """openssl as inspect() runs it for kubeconfigs (with -issuer)."""
    proc = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-subject", "-issuer"], input=pem,
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(params=["pyyaml", "no-pyyaml"])
def yaml_or_not(request, monkeypatch):
    """Every kubeconfig test with PyYAML and as on a host without it (the lab's hosts have none)."""
    if request.param == "no-pyyaml":
        monkeypatch.setitem(__import__("sys").modules, "yaml", None)
    return request.param


def check_kubeconfigs(backend: str, *names: str) -> C.CertChecker:
    checker = C.CertChecker(backend, "node1", 30, 7, real_openssl_issuer, now=KUBE_NOW)
    for name in names:
        checker.check_kubeconfig(str(KUBE / name))
    return checker


@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
def test_kubeconfig_client_certificates(backend, yaml_or_not):
    checker = check_kubeconfigs(backend, "kubelet.kubeconfig", "admin.kubeconfig")
    found = {f["target"]: f for f in checker.findings}
    kubelet = found[f"{KUBE}/kubelet.kubeconfig (user system:node:node1)"]
    assert kubelet["status"] == "warning" and kubelet["details"]["days_left"] == 19
    assert kubelet["summary"].startswith("client certificate of user system:node:node1: 19 day(s) left")
    assert kubelet["details"]["kubeconfig"] == f"{KUBE}/kubelet.kubeconfig"
    assert kubelet["details"]["user"] == "system:node:node1" and kubelet["details"]["certificate"] == "embedded"
    assert "kubeops-test-kubernetes-ca" in kubelet["details"]["issuer"]
    assert "system:node:node1" in kubelet["details"]["subject"]
    admin = found[f"{KUBE}/admin.kubeconfig (user admin)"]
    assert admin["status"] == "critical" and admin["details"]["days_left"] == 2
    proxy = found[f"{KUBE}/admin.kubeconfig (user system:kube-proxy)"]  # relative client-certificate path
    assert proxy["status"] == "ok" and proxy["details"]["certificate"] == f"{KUBE}/kube-proxy-client.pem"
    assert not any("deploy-bot" in target for target in found)  # a token user has no certificate to expire
    assert len(checker.findings) == 3


def test_kubeconfig_expired_is_critical(yaml_or_not):
    later = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    checker = C.CertChecker("cryptography", "node1", 30, 7, now=later)
    checker.check_kubeconfig(str(KUBE / "kubelet.kubeconfig"))
    [item] = checker.findings
    assert item["status"] == "critical" and "expired 6 day(s) ago" in item["summary"]
    assert "kubelet.kubeconfig (user system:node:node1)" in item["target"]


def test_kubeconfig_findings_hold_no_key_or_token(yaml_or_not):
    checker = check_kubeconfigs("cryptography", "kubelet.kubeconfig", "admin.kubeconfig", "broken.kubeconfig")
    dumped = json.dumps([checker.findings, checker.facts], default=str)
    for name in ("kubelet.kubeconfig", "admin.kubeconfig", "broken.kubeconfig"):
        for line in (KUBE / name).read_text().splitlines():
            if "client-key-data" in line or "token:" in line:
                secret = line.split(":", 1)[1].strip()
                assert secret and secret not in dumped
    assert "PRIVATE KEY" not in dumped and "kubeops-test-token" not in dumped


def test_kubeconfig_without_certificate_and_broken(yaml_or_not):
    checker = check_kubeconfigs("cryptography", "exec.kubeconfig", "broken.kubeconfig", "no-such.kubeconfig")
    exec_, broken, missing = checker.findings
    assert exec_["status"] == "ok" and exec_["target"] == f"{KUBE}/exec.kubeconfig"
    assert "no client certificate" in exec_["summary"]
    assert broken["status"] == "unknown" and broken["target"] == f"{KUBE}/broken.kubeconfig (user broken)"
    assert "holds no PEM certificate" in broken["summary"]
    assert missing["status"] == "unknown" and "cannot be read" in missing["summary"]


def test_kubeconfig_json_and_flow_style(yaml_or_not):
    checker = check_kubeconfigs("cryptography", "json.kubeconfig", "flow.kubeconfig")
    json_user, flow = checker.findings
    assert json_user["status"] == "ok" and json_user["target"].endswith("json.kubeconfig (user json-user)")
    if yaml_or_not == "pyyaml":
        assert flow["status"] == "ok" and flow["target"].endswith("flow.kubeconfig (user flow)")
    else:  # flow style needs a YAML library; never a silent gap
        assert flow["status"] == "unknown" and "install PyYAML" in flow["summary"]


def test_kubeconfig_yaml_error_names_the_line_only():
    text = "users:\n- name: x\n  user:\n    client-key-data: c2VjcmV0LWtleQ==\n  : [\n"
    with pytest.raises(C.CertUnreadable) as err:
        C.kubeconfig_users(text)
    assert "line" in str(err.value) and "c2VjcmV0" not in str(err.value)


def test_kubeconfigs_in_inspect_and_failure_targets():
    assert C.ARGUMENT_SPEC["kubeconfigs"] == {"type": "list", "elements": "path", "default": []}
    targets = C.failure_targets({"dirs": ["/etc/kubernetes/ssl"], "kubeconfigs": ["/etc/kubernetes/kubelet.kubeconfig"]},
                                "node1")
    assert ("certificates.expiry", "/etc/kubernetes/kubelet.kubeconfig") in targets


# -- certificates served on TLS endpoints ------------------------------------------------------------------------
@pytest.mark.parametrize("address, expected", [
    ("https://198.18.0.11:2379", ("198.18.0.11", 2379)), ("127.0.0.1:6443", ("127.0.0.1", 6443)),
    ("[::1]:8443", ("::1", 8443)), ("https://etcd1.example/", ("etcd1.example", 443)), ("master1", ("master1", 443)),
])
def test_split_address(address, expected):
    assert C.split_address(address) == expected


@pytest.mark.parametrize("address", ["", "https://", "host:notaport", "https://h:99999"])
def test_split_address_bad(address):
    with pytest.raises(C.CertError, match="endpoints: "):
        C.split_address(address)


@pytest.fixture()
def tls_server():
    """A real TLS server on 127.0.0.1 serving leaf-5d.pem (made with leaf-key.pem), for one handshake at a time."""
    import socket
    import ssl
    import threading

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(FIX / "leaf-5d.pem"), str(FIX / "leaf-key.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
def test_served_certificate_of_a_real_tls_server(tls_server, backend):
    checker = C.CertChecker(backend, "master1", 30, 7, real_openssl_issuer, now=NOW)
    checker.check_endpoint({"address": f"127.0.0.1:{tls_server}", "name": None, "server_name": "kube-apiserver"}, 5)
    [item] = checker.findings
    assert item["target"] == f"https://127.0.0.1:{tls_server}" and item["status"] == "critical"
    assert item["details"]["days_left"] == 4 and "kube-apiserver" in item["details"]["subject"]
    assert "kubeops-test-ca" in item["details"]["issuer"] and item["summary"].startswith("served certificate: 4 day(s)")


def test_endpoint_that_does_not_answer_and_bad_client_cert(tls_server):
    closed = socket_port_closed()
    checker = C.CertChecker("cryptography", "master1", 30, 7, now=NOW)
    checker.check_endpoint({"address": f"https://127.0.0.1:{closed}", "name": "etcd https://127.0.0.1"}, 2)
    checker.check_endpoint({"address": f"127.0.0.1:{tls_server}", "client_cert": "/nonexistent/client.pem",
                            "client_key": "/nonexistent/client-key.pem"}, 2)
    refused, bad_cert = checker.findings
    assert refused["status"] == "unknown" and refused["target"] == "etcd https://127.0.0.1"
    assert "no TLS answer" in refused["summary"]
    assert bad_cert["status"] == "unknown" and "/nonexistent/client.pem cannot be loaded" in bad_cert["summary"]


def socket_port_closed() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]   # closed once the socket is: nothing listens on it


def test_inspect_refuses_a_bad_endpoint_before_reading_anything():
    params = {**{k: v.get("default") for k, v in C.ARGUMENT_SPEC.items()},
              "endpoints": [{"address": "https://h:notaport", "name": None}]}
    with pytest.raises(C.CertError, match="'https://h:notaport'"):
        C.inspect(None, params, "master1")
    with pytest.raises(C.CertError, match="endpoint_timeout"):
        C.inspect(None, dict(params, endpoints=[], endpoint_timeout=0), "master1")
    assert ("certificates.expiry", "https://h:443") in C.failure_targets({"endpoints": [{"address": "h"}]}, "m")
