"""nginx check (plugins/module_utils/_middleware_nginx.py): `nginx -t` outputs captured on the lab's mw1
(nginx 1.22.1), a /proc tree on disk, and a real HTTP server on 127.0.0.1 for the probe."""
from __future__ import annotations

import http.server
import json
import ssl
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware as W
from ansible_collections.kubeops.runbook.plugins.module_utils import _middleware_nginx as N

FIX = Path(__file__).parent / "fixtures" / "middleware"


def cap(name: str) -> W.CmdResult:
    data = json.loads((FIX / f"{name}.json").read_text())
    return W.CmdResult(data["rc"], data["stdout"], data["stderr"])


@pytest.mark.parametrize("name, ok, error", [
    ("nginx_t_ok", True, None),
    ("nginx_t_bad", False, 'unknown directive "locaton" in /tmp/kubeops-bad-nginx.conf:2'),
    ("nginx_t_missing_include", False,
     'open() "/etc/nginx/does-not-exist.conf" failed (2: No such file or directory) in /tmp/kubeops-bad-nginx.conf:2'),
])
def test_parse_config_test(name, ok, error):
    result = N.parse_config_test(*cap(name))
    assert result["ok"] is ok
    assert result["errors"] == ([error] if error else [])
    assert result["warnings"] == []


def test_parse_config_test_warning_and_silent_failure():
    warn = cap("nginx_t_ok")._replace(stderr='2026/11/22 05:50:19 [warn] 393#393: conflicting server name "x" on 0.0.0.0:80, ignored\n'
                                             + cap("nginx_t_ok").stderr)
    assert N.parse_config_test(*warn)["warnings"] == ['conflicting server name "x" on 0.0.0.0:80, ignored']
    assert N.parse_config_test(1, "", "")["errors"] == ["nginx -t exited with 1 and printed nothing"]


def make_proc(root: Path, processes: dict[int, str]) -> Path:
    proc = root / "proc"
    for pid, cmdline in processes.items():
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")
    (proc / "self").mkdir(parents=True, exist_ok=True)
    return proc


MASTER = "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"


@pytest.mark.parametrize("processes, pid_file, running, pid, source, problem", [
    ({77: MASTER, 86: "nginx: worker process"}, "77", True, 77, "pid_file", None),
    ({77: MASTER, 86: "nginx: worker process"}, None, True, 77, "proc", "does not exist"),
    ({91: MASTER, 77: "/usr/bin/python3 app.py"}, "77", True, 91, "proc", "which is not an nginx master"),
    ({86: "nginx: worker process"}, "garbage", False, None, None, "is unreadable"),
    ({1: "/sbin/init"}, "77", False, None, None, "which is not an nginx master"),
])
def test_find_master(tmp_path, processes, pid_file, running, pid, source, problem):
    proc = make_proc(tmp_path, processes)
    pid_path = tmp_path / "nginx.pid"
    if pid_file is not None:
        pid_path.write_text(pid_file + "\n")
    result = N.find_master(str(pid_path), str(proc))
    assert (result["running"], result["pid"], result["source"]) == (running, pid, source)
    if problem:
        assert problem in result["pid_file_problem"]
    else:
        assert result["pid_file_problem"] is None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        code = {"/healthz": 200, "/moved": 302, "/broken": 502}.get(self.path, 404)
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/healthz")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_base():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("path, status", [("/healthz", 200), ("/moved", 302), ("/broken", 502), ("/nope", 404)])
def test_default_fetch_real_server(http_base, path, status):
    result = N.default_fetch(http_base + path, 5, True)
    assert (result.status, result.error) == (status, None)


def test_default_fetch_refused(http_base):
    closed = http_base.rsplit(":", 1)[0] + ":9"  # discard port, nothing listens on 127.0.0.1:9 here
    result = N.default_fetch(closed + "/healthz", 2, True)
    assert result.status is None and "refused" in result.error.lower()


@pytest.fixture(scope="module")
def https_base():
    """The probe's server with TLS: the leaf certificate of fixtures/certs, which no system store trusts."""
    certs = Path(__file__).parent / "fixtures" / "certs"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "leaf-20d.pem", certs / "leaf-key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_default_fetch_https_validates_the_certificate_unless_told_not_to(https_base):
    checked = N.default_fetch(https_base + "/healthz", 5, True)
    assert checked.status is None and "certificate verify failed" in checked.error.lower()
    assert N.default_fetch(https_base + "/moved", 5, False)[:2] == (302, None)


class FakeNginx:
    def __init__(self, name: str):
        self.result = cap(name)
        self.calls: list[list[str]] = []

    def __call__(self, argv, env):
        self.calls.append(list(argv))
        return self.result


@pytest.mark.parametrize("test, processes, path, expected, status, needle", [
    ("nginx_t_ok", {77: MASTER}, "/healthz", (200,), W.OK, "master process 77 running, nginx -t ok, GET "),
    ("nginx_t_bad", {77: MASTER}, "/healthz", (200,), W.CRITICAL, 'nginx -t failed: unknown directive "locaton"'),
    ("nginx_t_ok", {}, "/healthz", (200,), W.CRITICAL, "nginx master process is not running"),
    ("nginx_t_ok", {77: MASTER}, "/broken", (200,), W.CRITICAL, "returned 502, expected 200"),
    ("nginx_t_ok", {77: MASTER}, "/moved", (200, 302), W.OK, "-> 302"),
])
def test_check(tmp_path, http_base, test, processes, path, expected, status, needle):
    proc = make_proc(tmp_path, processes)
    (tmp_path / "nginx.pid").write_text("77\n")
    opts = N.NginxOptions(pid_file=str(tmp_path / "nginx.pid"), probe_url=http_base + path, expected_status=expected)
    runner = FakeNginx(test)
    finding, facts = N.check(opts, runner, lambda n: f"/usr/sbin/{n}", "mw1", proc_root=str(proc))
    assert finding["id"] == "middleware.nginx" and finding["target"] == "nginx"
    assert finding["status"] == status, finding
    assert needle in finding["summary"]
    assert runner.calls[0][-2:] == ["/usr/sbin/nginx", "-T"]
    assert facts["probe"]["url"] == http_base + path


def test_check_no_binary_is_unknown_but_still_probes(tmp_path, http_base):
    proc = make_proc(tmp_path, {77: MASTER})
    opts = N.NginxOptions(pid_file=str(tmp_path / "none.pid"), probe_url=http_base + "/healthz")
    finding, facts = N.check(opts, FakeNginx("nginx_t_ok"), lambda n: None, "mw1", proc_root=str(proc))
    assert finding["status"] == W.UNKNOWN
    assert finding["summary"] == "nginx not found on this host: configuration not tested"
    assert facts["probe"]["status"] == 200


@pytest.mark.parametrize("opts, message", [
    (N.NginxOptions(expected_status=(200, 999)), "expected_status: 999"),
    (N.NginxOptions(probe_url="127.0.0.1/healthz"), "probe_url: must be an http"),
    (N.NginxOptions(probe_timeout=0), "probe_timeout"),
    (N.NginxOptions(command_timeout=-3), "command_timeout"),
])
def test_bad_options(opts, message):
    with pytest.raises(W.MiddlewareError, match=message):
        N.check(opts, FakeNginx("nginx_t_ok"), lambda n: n, None)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-1, max_value=255), st.binary(max_size=2000), st.binary(max_size=2000))
def test_parse_config_test_fuzz(rc, out, err):
    result = N.parse_config_test(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    assert result["ok"] or result["errors"]


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=len(cap("nginx_t_bad").stderr)))
def test_parse_config_test_truncated(cut):
    bad = cap("nginx_t_bad")
    assert N.parse_config_test(bad.rc, bad.stdout, bad.stderr[:cut])["ok"] is False


# -- the logs nginx declares (nginx -T) --------------------------------------------------------------------------
DUMP = r"""# configuration file /etc/nginx/nginx.conf:
user www-data;
error_log /var/log/nginx/error.log;   # the main error log
http {
    log_format main '$remote_addr "$request" $status; {braces} in quotes';
    access_log /var/log/nginx/access.log;
    access_log syslog:server=127.0.0.1 main;
    include /etc/nginx/sites-enabled/*;
}

# configuration file /etc/nginx/sites-enabled/default:
server {
  listen 80 default_server;
  access_log /data/iuap/logs/nginx/tomcat_access.$logdate.log combined;
  error_log /data/iuap/logs/nginx/developer-center_error.log warn;
  location = /healthz { access_log off; return 200 "ok;\n"; }
  location /old { access_log "logs/old access.log"; error_log stderr; error_log memory:32m; }
  location /x { error_log /var/log/nginx/error.log; access_log /dev/null; }
}
"""


def test_tokenize_skips_comments_and_keeps_quoted_words():
    tokens = list(N.tokenize('a "b; c" # d;\n e \'f\\\'g\';'))
    assert tokens == ["a", "b; c", "e", "f'g", ";"]


def test_declared_logs_from_the_configuration():
    found = N.declared_logs(DUMP, prefix="/usr/share/nginx")
    assert found == {
        "error": ["/var/log/nginx/error.log", "/data/iuap/logs/nginx/developer-center_error.log"],
        "access": ["/var/log/nginx/access.log", "/data/iuap/logs/nginx/tomcat_access.*.log",
                   "/usr/share/nginx/logs/old access.log"],
    }
    assert N.declared_logs(DUMP, prefix="")["access"][-1] == "logs/old access.log"


def test_log_files_have_unique_log_scan_names():
    files = N.log_files(N.declared_logs(DUMP, prefix="/usr/share/nginx"))
    assert [f["name"] for f in files["error"]] == ["nginx_error", "nginx_developer_center_error"]
    assert [f["name"] for f in files["access"]] == ["nginx_access", "nginx_tomcat_access", "nginx_old_access"]
    twice = N.log_files({"error": ["/a/error.log", "/b/error.log"], "access": []})
    assert [f["name"] for f in twice["error"]] == ["nginx_error", "nginx_error_2"]


def test_check_returns_the_declared_logs_and_asks_nginx_for_its_prefix(tmp_path):
    proc = make_proc(tmp_path, {77: MASTER})
    (tmp_path / "nginx.pid").write_text("77\n")
    calls = []

    def runner(argv, env):
        calls.append(argv[-1])
        if argv[-1] == "-V":
            return W.CmdResult(0, "", "nginx version: nginx/1.22.1\nconfigure arguments: --prefix=/usr/share/nginx --foo")
        return W.CmdResult(0, DUMP, cap("nginx_t_ok").stderr)

    finding, facts = N.check(N.NginxOptions(pid_file=str(tmp_path / "nginx.pid")), runner, lambda n: f"/usr/sbin/{n}",
                             "mw1", proc_root=str(proc))
    assert finding["status"] == W.OK and calls == ["-T", "-V"]
    assert facts["logs"]["access"][-1] == {"path": "/usr/share/nginx/logs/old access.log", "name": "nginx_old_access"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_declared_logs_never_raise(text):
    found = N.declared_logs(text)
    assert set(found) == {"error", "access"}


# -- the TLS listeners (whose served certificates cert_expiry_info checks) ------------------------------------------
def test_tls_listeners_of_the_lab_configuration():
    """The lab's nginx -T with a TLS server added: the two `listen ... ssl`, not the plain servers (80, 8080)."""
    assert N.tls_listeners(cap("nginx_T_tls").stdout) == [
        {"address": "127.0.0.1", "port": 8443, "server_name": "portal.example.test", "listen": "8443 ssl"},
        {"address": "127.0.0.1", "port": 8444, "server_name": None, "listen": "127.0.0.1:8444 ssl default_server"},
    ]
    assert N.tls_listeners(cap("nginx_T_tls").stdout.replace(" ssl", "")) == []


def test_tls_listeners_forms():
    config = """
    http {
      server { listen 443 ssl http2; listen [::]:443 ssl; server_name ~^(?<app>.+)\\.example$ shop.example; }
      server { listen 10.0.0.5:8443; ssl on; server_name *.example.org; }
      server { listen unix:/run/nginx.sock ssl; }
      server { listen 443 ssl; server_name shop.example; }      # the same port and name: reached once
      server { listen [2001:db8::1]:9443 ssl; location / { proxy_pass https://backend; } }
      server { listen 80; server_name plain; location /x { return 200; } }
    }
    stream { server { listen 6443 ssl; proxy_pass apiservers; } }
    """
    assert [(x["address"], x["port"], x["server_name"]) for x in N.tls_listeners(config)] == [
        ("127.0.0.1", 443, "shop.example"), ("10.0.0.5", 8443, None), ("2001:db8::1", 9443, None),
        ("127.0.0.1", 6443, None)]
    assert N.tls_endpoints({"tls_listeners": N.tls_listeners(config)})[:3] == [
        {"address": "127.0.0.1:443", "name": "nginx 443 ssl http2 shop.example", "server_name": "shop.example"},
        {"address": "10.0.0.5:8443", "name": "nginx 10.0.0.5:8443", "server_name": None},
        {"address": "[2001:db8::1]:9443", "name": "nginx [2001:db8::1]:9443 ssl", "server_name": None}]
    assert N.tls_endpoints(None) == []
