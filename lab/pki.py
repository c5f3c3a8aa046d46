"""Certificates of the lab: a Kubernetes CA, an etcd CA and a front-proxy CA, as a binary install would have them."""
from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import config

SERVER = [ExtendedKeyUsageOID.SERVER_AUTH]
CLIENT = [ExtendedKeyUsageOID.CLIENT_AUTH]
BOTH = SERVER + CLIENT


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _pem_cert(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CA:
    def __init__(self, cn: str, days: int = 3650):
        self.key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def issue(self, cn: str, usages, orgs: tuple[str, ...] = (), dns: tuple[str, ...] = (),
              ips: tuple[str, ...] = (), days: int = 365) -> tuple[bytes, bytes]:
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(_name(cn, orgs)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
        sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _pem_cert(cert), _pem_key(key)

    @property
    def cert_pem(self) -> bytes:
        return _pem_cert(self.cert)

    @property
    def key_pem(self) -> bytes:
        return _pem_key(self.key)


def kubeconfig(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, user: str) -> str:
    import base64

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"""apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: {server}
    certificate-authority-data: {b64(ca_pem)}
users:
- name: {user}
  user:
    client-certificate-data: {b64(cert_pem)}
    client-key-data: {b64(key_pem)}
contexts:
- name: {user}@lab
  context: {{cluster: lab, user: {user}}}
current-context: {user}@lab
"""


def generate(out: Path) -> dict[str, dict[str, bytes]]:
    """Return {node name: {absolute path inside the node: content}} plus '_host' for the controller."""
    files: dict[str, dict[str, bytes]] = {n.name: {} for n in config.NODES}
    files["_host"] = {}
    k8s = CA("kubernetes-ca")
    etcd = CA("etcd-ca")
    front_proxy = CA("front-proxy-ca")
    master = config.NODES_BY_NAME["master1"]
    api = f"https://{master.ip}:6443"
    ssl = config.K8S_SSL_DIR

    apiserver = k8s.issue("kube-apiserver", SERVER,
                          dns=("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                               "kubernetes.default.svc.cluster.local", "master1", "localhost"),
                          ips=(master.ip, config.KUBERNETES_SVC_IP, "127.0.0.1"))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_priv = _pem_key(sa_key)
    sa_pub = sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    admin = k8s.issue("admin", CLIENT, orgs=("system:masters",))
    cm = k8s.issue("system:kube-controller-manager", CLIENT)
    sched = k8s.issue("system:kube-scheduler", CLIENT)
    proxy = k8s.issue("system:kube-proxy", CLIENT)
    etcd_client = etcd.issue("etcd-client", CLIENT)

    m = files["master1"]
    m[f"{ssl}/ca.pem"] = k8s.cert_pem
    m[f"{ssl}/ca-key.pem"] = k8s.key_pem
    m[f"{ssl}/apiserver.pem"], m[f"{ssl}/apiserver-key.pem"] = apiserver
    m[f"{ssl}/sa.key"] = sa_priv
    m[f"{ssl}/sa.pub"] = sa_pub
    m[f"{ssl}/admin.pem"], m[f"{ssl}/admin-key.pem"] = admin
    m[f"{ssl}/front-proxy-ca.pem"] = front_proxy.cert_pem
    m[f"{ssl}/front-proxy-client.pem"], m[f"{ssl}/front-proxy-client-key.pem"] = front_proxy.issue("front-proxy-client", CLIENT)
    m["/etc/kubernetes/controller-manager.kubeconfig"] = kubeconfig(api, k8s.cert_pem, *cm, "system:kube-controller-manager").encode()
    m["/etc/kubernetes/scheduler.kubeconfig"] = kubeconfig(api, k8s.cert_pem, *sched, "system:kube-scheduler").encode()
    m["/root/.kube/config"] = kubeconfig(api, k8s.cert_pem, *admin, "admin").encode()
    files["_host"]["kubeconfig"] = kubeconfig(api, k8s.cert_pem, *admin, "admin").encode()
    files["_host"]["k8s-ca.pem"] = k8s.cert_pem
    files["_host"]["k8s-ca-key.pem"] = k8s.key_pem
    files["_host"]["etcd-ca.pem"] = etcd.cert_pem
    files["_host"]["etcd-ca-key.pem"] = etcd.key_pem

    for node in config.NODES:
        if "kube_node" in node.groups:
            f = files[node.name]
            kubelet = k8s.issue(f"system:node:{node.name}", CLIENT, orgs=("system:masters",))
            f[f"{ssl}/ca.pem"] = k8s.cert_pem
            f["/etc/kubernetes/kubelet.kubeconfig"] = kubeconfig(api, k8s.cert_pem, *kubelet, f"system:node:{node.name}").encode()
            f["/etc/kubernetes/kube-proxy.kubeconfig"] = kubeconfig(api, k8s.cert_pem, *proxy, "system:kube-proxy").encode()
            f[f"{ssl}/kube-proxy.pem"], f[f"{ssl}/kube-proxy-key.pem"] = proxy
            f[f"{ssl}/kubelet.pem"], f[f"{ssl}/kubelet-key.pem"] = kubelet
    for node in config.ETCD_NODES:
        f = files[node.name]
        es = config.ETCD_SSL_DIR
        server = etcd.issue(f"etcd-{node.name}", BOTH, dns=(node.name, "localhost"), ips=(node.ip, "127.0.0.1"))
        f[f"{es}/ca.pem"] = etcd.cert_pem
        f[f"{es}/server.pem"], f[f"{es}/server-key.pem"] = server
        f[f"{es}/peer.pem"], f[f"{es}/peer-key.pem"] = server
        f[f"{es}/etcd-client.pem"], f[f"{es}/etcd-client-key.pem"] = etcd_client
        if node.name == "master1":
            # The CA key stays on the first member: new members' certificates are issued from it.
            f[f"{es}/ca-key.pem"] = etcd.key_pem
    out.mkdir(parents=True, exist_ok=True)
    return files
