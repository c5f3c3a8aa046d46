"""TLS Secrets in the namespaces asked for (k8s_cluster_info tls_secret_namespaces): a Secret whose certificate
expires in 3 days is critical, named by namespace and name; one LIST with the type field selector; the key is in no
output. The namespace is deleted afterwards."""
from __future__ import annotations

import base64
import datetime as dt
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from test_cluster_inspection import find, k8s

NAMESPACE = "kubeops-itest-tls"


def self_signed(tmp_path, name: str, days: int) -> tuple[str, str, str]:
    """(cert file, key file, key PEM) of a throwaway self-signed certificate valid for ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, f"{name}.kubeops-itest.test")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    crt, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_text(key_pem)
    return str(crt), str(key_file), key_pem


def test_expiring_tls_secret_is_critical(lab, tmp_path):
    expiring = self_signed(tmp_path, "portal", 3)
    fine = self_signed(tmp_path, "api", 365)
    lab.kubectl("create", "namespace", NAMESPACE)
    try:
        for name, (crt, key, _pem) in (("portal-tls", expiring), ("api-tls", fine)):
            lab.kubectl("-n", NAMESPACE, "create", "secret", "tls", name, f"--cert={crt}", f"--key={key}")
        result = k8s(lab, checks=["nodes"], tls_secret_namespaces=[NAMESPACE, "kube-public"])
    finally:
        lab.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s", check=False)
    findings = result["findings"]
    [portal] = find(findings, "certificates.expiry", f"secret/{NAMESPACE}/portal-tls")
    assert portal["status"] == "critical" and portal["details"]["days_left"] == 2, portal
    assert "portal.kubeops-itest.test" in portal["details"]["subject"]
    [aggregate] = find(findings, "certificates.expiry", f"secret/{NAMESPACE}/*")
    assert aggregate["status"] == "ok" and aggregate["details"]["secrets"] == 1, aggregate
    [public] = find(findings, "certificates.expiry", "secret/kube-public/*")
    assert public["status"] == "ok" and "no TLS secret" in public["summary"]
    assert result["api_requests"]["secrets"] == 1
    dumped = json.dumps(result)
    for _crt, _key, key_pem in (expiring, fine):   # the key as the Secret holds it (base64), and as PEM
        assert base64.b64encode(key_pem.encode()).decode()[60:120] not in dumped
        assert key_pem.splitlines()[2] not in dumped
