# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of one host's inspection call, built from the inspection's settings. PRIVATE to the collection.

``kubeops.runbook.host_inspection_info``'s action calls ``host_checks`` when its task gives no ``checks`` (the
host_inspection role's ``tasks/inspect.yml``): the list ``[{check, options}]`` the module runs on the host, from the
host's groups and the variables of the host_inspection role (``host_inspection_*``), the middleware_inspection role
(``kubeops_nginx_*``, ``kubeops_redis_*``, ...) and the cluster_inspection role (``cluster_inspection_*``), with the
same meaning as the single-purpose path (``tasks/checks.yml`` and those roles' tasks, one task per check;
tests/integration/test_host_inspection_paths.py compares the two on the lab).

Built here in Python rather than templated in the task's arguments: a forked worker compiles every Jinja expression
it templates anew, and a host's check list was 30 of them, most of it for checks the host does not run. A setting is
read (and templated) only when the host's checks need it, in the order a Jinja ``and`` would.

The rules that depend on the host's groups for the certificate and version checks (``cert_kubeconfigs``,
``cert_endpoints``, ``version_components``) are also the ``kubeops.runbook.host_check_options`` filter, through which
``tasks/checks.yml`` gives those checks their options: one home for each rule.

``host_checks(settings)`` is pure: ``settings`` reads a variable (templated) and knows the host's place in the
inventory, so the unit tests give it plain values.
"""
from __future__ import annotations

import re
import typing as t

from ansible.module_utils.parsing.convert_bool import boolean

_MISSING = object()


class SettingsError(Exception):
    """A setting the host's checks need is undefined or has the wrong shape; the message names it."""


class Settings:
    """The variables of one host, read on demand. ``read(name)`` returns a variable's value, templated, or raises
    KeyError when it is undefined; ``address(host)`` is a host's ``ansible_host`` ('' when it has none)."""

    def __init__(self, read: t.Callable[[str], t.Any], address: t.Callable[[str], t.Any]):
        self._read = read
        self._address = address
        self._seen: dict[str, t.Any] = {}

    def get(self, name: str, default: t.Any = _MISSING) -> t.Any:
        """The variable ``name``; ``default`` when it is undefined (an undefined one without a default is an
        error naming it)."""
        if name not in self._seen:
            try:
                self._seen[name] = self._read(name)
            except KeyError:
                self._seen[name] = _MISSING
        value = self._seen[name]
        if value is _MISSING:
            if default is _MISSING:
                raise SettingsError(f"{name} is undefined")
            return default
        return value

    def flag(self, name: str, default: t.Any = _MISSING) -> bool:
        """The variable as Ansible's ``bool`` filter reads it."""
        return _bool(self.get(name, default))

    def or_none(self, name: str) -> t.Any:
        """The variable, or None when it is undefined or empty (Jinja's ``default(none, true)``)."""
        value = self.get(name, None)
        return value if value else None

    def address(self, host: str) -> str:
        value = self._address(host)
        return "" if value is None else value


def _bool(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return boolean(value, strict=False)


def _names(value: t.Any, name: str) -> list:
    """A list setting (a string alone is one item, as Jinja's ``in`` would not take it)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [value]
    if isinstance(value, t.Mapping):
        raise SettingsError(f"{name} must be a list, not a mapping")
    try:
        return list(value)
    except TypeError:
        raise SettingsError(f"{name} must be a list, not {type(value).__name__}") from None


def _flatten(items: t.Iterable) -> list:
    """Ansible's ``flatten`` filter: nested lists into one, nulls dropped."""
    out: list = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out += _flatten(item)
        elif item not in (None, "None"):
            out.append(item)
    return out


def _unique(items: t.Iterable) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _mapping(value: t.Any, name: str) -> t.Mapping:
    if value is None:
        return {}
    if not isinstance(value, t.Mapping):
        raise SettingsError(f"{name} must be a mapping of inventory group to list, not {type(value).__name__}")
    return value


def _check(name: str, options: dict) -> dict:
    return {"check": name, "options": options}


# -- the host's own checks ----------------------------------------------------------------------------------------
def unit_checks(s: Settings, groups_here: list) -> list:
    """systemd_unit_info, one per finding category: the units of the unit sets whose group the host is in."""
    sets = [item for item in _names(s.get("host_inspection_unit_sets"), "host_inspection_unit_sets")
            if isinstance(item, t.Mapping) and item.get("group") in groups_here]
    options = {
        "default_since": s.get("host_inspection_journal_default_since"),
        "state_file": f"{s.get('host_inspection_state_dir')}/systemd_unit_info.json",
        "max_restarts": s.get("host_inspection_max_restarts"),
        "journal_errors_warning": s.get("host_inspection_journal_errors_warning"),
        "klog_errors": s.get("host_inspection_klog_errors"),
    }
    since = s.get("host_inspection_journal_since")
    if since:
        options["since"] = since
    out = []
    for category in ("control_plane_services", "node_services"):
        units = _unique(_flatten(item.get("units") for item in sets if item.get("category") == category))
        if units:
            out.append(_check("systemd_unit_info", dict(options, units=units, category=category)))
    return out


def log_checks(s: Settings, groups_here: list) -> list:
    """log_scan of the log files of the host's groups."""
    by_group = _mapping(s.get("host_inspection_log_files"), "host_inspection_log_files")
    files = _flatten(value for key, value in by_group.items() if key in groups_here)
    if not files:
        return []
    return [_check("log_scan", {
        "files": files, "mode": s.get("host_inspection_log_mode"), "lines": s.get("host_inspection_log_lines"),
        "max_bytes": s.get("host_inspection_log_max_bytes"), "min_count": s.get("host_inspection_log_min_count"),
        "patterns": s.get("host_inspection_log_patterns"),
        "extra_patterns": s.get("host_inspection_log_extra_patterns"),
        "state_file": f"{s.get('host_inspection_state_dir')}/log_scan.json"})]


def disk_checks(s: Settings) -> list:
    return [_check("disk_usage_info", {
        "paths": s.get("host_inspection_disk_paths") or None,
        "space_warning": s.get("host_inspection_disk_space_warning"),
        "space_critical": s.get("host_inspection_disk_space_critical"),
        "inodes_warning": s.get("host_inspection_disk_inodes_warning"),
        "inodes_critical": s.get("host_inspection_disk_inodes_critical"),
        "kubelet_eviction": s.get("host_inspection_disk_kubelet_eviction"),
        "kubelet_config": s.get("host_inspection_disk_kubelet_config") or None,
        "kubelet_eviction_margin": s.get("host_inspection_disk_kubelet_eviction_margin")})]


def cert_kubeconfigs(s: Settings, groups_here: list) -> list:
    """The kubeconfigs of the host's groups, whose client certificates are checked."""
    by_group = _mapping(s.get("host_inspection_cert_kubeconfigs"), "host_inspection_cert_kubeconfigs")
    return _unique(_flatten(value for key, value in by_group.items() if key in groups_here))


def cert_endpoints(s: Settings, host: str, group_names: list) -> list:
    """The HTTPS endpoints whose certificates are read from the host: the apiserver's on a control-plane host; on an
    etcd host, the client URLs of kubeops_etcd_endpoints it serves (its address or name in the URL), presenting the
    etcd client certificate."""
    if not s.flag("host_inspection_cert_endpoints"):
        return []
    out = []
    if "kube_control_plane" in group_names:
        apiserver = s.get("host_inspection_cert_apiserver_endpoint")
        out.append({"address": apiserver, "name": f"kube-apiserver https://{apiserver}"})
    if "etcd" in group_names:
        names = _unique([s.get("ansible_host", host), host])
        served = re.compile("^https://(" + "|".join(re.escape(str(name)) for name in names) + "):")
        urls = [url for url in _names(s.get("kubeops_etcd_endpoints", []), "kubeops_etcd_endpoints")
                if served.search(str(url))]
        for url in _unique(urls):
            out.append({"address": url, "name": f"etcd {url}", "client_cert": s.get("kubeops_etcd_cert", None),
                        "client_key": s.get("kubeops_etcd_key", None)})
    return out


def cert_checks(s: Settings, host: str, group_names: list, groups_here: list) -> list:
    cert_groups = _names(s.get("host_inspection_cert_groups"), "host_inspection_cert_groups")
    if not any(group in cert_groups for group in group_names):
        return []
    return [_check("cert_expiry_info", {
        "dirs": s.get("host_inspection_cert_dirs"), "warning_days": s.get("host_inspection_cert_warning_days"),
        "critical_days": s.get("host_inspection_cert_critical_days"),
        "kubeconfigs": cert_kubeconfigs(s, groups_here), "endpoints": cert_endpoints(s, host, group_names),
        "endpoint_timeout": s.get("host_inspection_cert_endpoint_timeout")})]


def hygiene_checks(s: Settings) -> list:
    return [_check("host_hygiene_info", {
        "checks": ["container_root", "may_detach_mounts"],
        "container_roots": s.get("host_inspection_container_roots")})]


def version_components(group_names: list) -> list:
    """The components whose installed versions the host reports: kube-proxy on a node, kubectl on a control-plane
    host."""
    return (["kube-proxy"] if "kube_node" in group_names else []) + \
        (["kubectl"] if "kube_control_plane" in group_names else [])


def version_checks(s: Settings, group_names: list) -> list:
    components = version_components(group_names)
    if not (s.flag("host_inspection_component_versions") and components):
        return []
    return [_check("component_versions", {
        "components": components, "bin_dirs": s.get("host_inspection_version_bin_dirs")})]


# -- the middleware the host declares ------------------------------------------------------------------------------
def middleware_here(s: Settings) -> list:
    """The middleware checked on this host: kubeops_middleware that has a check (with host_inspection_middleware)."""
    if not s.flag("host_inspection_middleware"):
        return []
    known = _names(s.get("kubeops_middleware_checks"), "kubeops_middleware_checks")
    return _unique(name for name in _names(s.get("kubeops_middleware"), "kubeops_middleware") if name in known)


def middleware_checks(s: Settings, here: list) -> list:
    out = []
    if "nginx" in here:
        out.append(_check("nginx_info", {
            "probe_url": s.or_none("kubeops_nginx_probe_url"),
            "expected_status": s.get("kubeops_nginx_expected_status"),
            "pid_file": s.get("kubeops_nginx_pid_file"), "config_file": s.or_none("kubeops_nginx_config_file"),
            "probe_timeout": s.get("kubeops_nginx_probe_timeout"),
            "validate_certs": s.get("kubeops_nginx_validate_certs")}))
    if "redis" in here:
        out.append(_check("redis_info", {
            "login_host": s.get("kubeops_redis_host"), "login_port": s.get("kubeops_redis_port"),
            "login_password": s.or_none("kubeops_redis_password"),
            "memory_warning_percent": s.get("kubeops_redis_memory_warning_percent"),
            "memory_critical_percent": s.get("kubeops_redis_memory_critical_percent"),
            "clients_warning": s.get("kubeops_redis_clients_warning"),
            "clients_critical": s.get("kubeops_redis_clients_critical"),
            "expected_role": s.or_none("kubeops_redis_expected_role"),
            "check_overcommit": s.get("kubeops_redis_check_overcommit")}))
    if "rabbitmq" in here:
        out.append(_check("rabbitmq_info", {
            "node": s.or_none("kubeops_rabbitmq_node"),
            "expected_listeners": s.get("kubeops_rabbitmq_expected_listeners"),
            "fd_warning_percent": s.get("kubeops_rabbitmq_fd_warning_percent"),
            "fd_critical_percent": s.get("kubeops_rabbitmq_fd_critical_percent")}))
    if "mysql" in here:
        out.append(_check("mysql_info", {
            "login_user": s.or_none("kubeops_mysql_user"), "login_password": s.or_none("kubeops_mysql_password"),
            "login_host": s.or_none("kubeops_mysql_host"), "login_port": s.get("kubeops_mysql_port"),
            "login_unix_socket": s.or_none("kubeops_mysql_socket"),
            "threads_warning": s.get("kubeops_mysql_threads_warning"),
            "threads_critical": s.get("kubeops_mysql_threads_critical")}))
    if "license_server" in here:
        out.append(_check("tcp_service_info", {
            "name": "license_server", "address": s.get("kubeops_license_server_host"),
            "port": s.get("kubeops_license_server_port"), "banner": s.or_none("kubeops_license_server_banner"),
            "timeout": s.get("kubeops_license_server_timeout")}))
    if any(name in here for name in ("nginx", "redis", "rabbitmq")):
        files = []
        if "redis" in here:
            files.append({"path": s.get("kubeops_redis_log_file"), "name": "redis",
                          "ignore": s.get("kubeops_redis_log_ignore")})
        if "rabbitmq" in here:
            files.append({"path": s.get("kubeops_rabbitmq_log_file"), "name": "rabbitmq"})
        out.append(_check("middleware_log_scan", {
            "nginx_error_logs": "nginx" in here,
            "nginx_access_logs": "nginx" in here and s.flag("kubeops_nginx_access_logs"),
            "files": files, "mode": s.get("kubeops_middleware_log_mode"),
            "state_file": s.get("kubeops_middleware_log_state_file"),
            "access_5xx_warning": s.get("kubeops_nginx_5xx_warning_percent"),
            "access_5xx_critical": s.get("kubeops_nginx_5xx_critical_percent"),
            "access_min_requests": s.get("kubeops_nginx_access_min_requests")}))
    if "nginx" in here and s.flag("host_inspection_cert_endpoints"):
        out.append(_check("middleware_cert_expiry", {
            "warning_days": s.get("host_inspection_cert_warning_days"),
            "critical_days": s.get("host_inspection_cert_critical_days"),
            "endpoint_timeout": s.get("host_inspection_cert_endpoint_timeout")}))
    return out


# -- the cluster's parts some hosts run: BGP sessions, etcd, etcd snapshots ------------------------------------------
def calico_checks(s: Settings, host: str, groups: t.Mapping) -> list:
    if not (s.flag("host_inspection_calico") and s.flag("cluster_inspection_calico")
            and host in (groups.get("calico") or [])):
        return []
    return [_check("calico_bgp_info", {
        "socket": s.get("kubeops_bird_socket", "/var/run/calico/bird.ctl"),
        "birdcl_path": s.get("cluster_inspection_birdcl"), "calicoctl_path": s.get("cluster_inspection_calicoctl"),
        "host_name": host, "local_address": s.get("ansible_host", host),
        "peer_hosts": s.get("cluster_inspection_calico_peer_hosts")})]


def etcd_checks(s: Settings, host: str, groups: t.Mapping, play_hosts: list) -> list:
    """etcd_cluster_info on the play's first etcd host."""
    etcd_hosts = list(groups.get("etcd") or [])
    first = next((name for name in etcd_hosts if name in play_hosts), "")
    if not (s.flag("host_inspection_etcd") and s.flag("cluster_inspection_etcd")
            and s.flag("cluster_inspection_cluster_wide") and host == first):
        return []
    # a member's address (ansible_host; '' for a host without one) or its name -> its inventory name
    member_hosts = {s.address(name): name for name in etcd_hosts}
    member_hosts.update({name: name for name in etcd_hosts})
    return [_check("etcd_cluster_info", {
        "endpoints": s.get("kubeops_etcd_endpoints"), "cacert": s.get("kubeops_etcd_cacert", None),
        "cert": s.get("kubeops_etcd_cert", None), "key": s.get("kubeops_etcd_key", None),
        "etcdctl_path": s.get("cluster_inspection_etcdctl"),
        "dial_timeout": s.get("cluster_inspection_etcd_dial_timeout"),
        "command_timeout": s.get("cluster_inspection_etcd_command_timeout"),
        "member_hosts": member_hosts,
        "quota_backend_bytes": s.or_none("cluster_inspection_etcd_quota_backend_bytes"),
        "etcd_unit": s.get("cluster_inspection_etcd_unit"),
        "db_size_warning_percent": s.get("cluster_inspection_etcd_db_size_warning_percent"),
        "db_size_critical_percent": s.get("cluster_inspection_etcd_db_size_critical_percent"),
        "defrag_warning_percent": s.get("cluster_inspection_etcd_defrag_warning_percent"),
        "defrag_min_quota_percent": s.get("cluster_inspection_etcd_defrag_min_quota_percent")})]


def etcd_backup_checks(s: Settings, host: str) -> list:
    """etcd_backup_info on an etcd host that takes backups: its snapshots in etcd_backup_dir (else
    kubeops_etcd_backup_dir) and etcd_backup_copy_to."""
    if not (s.flag("host_inspection_etcd") and s.flag("cluster_inspection_etcd")):
        return []
    backup_dir = s.get("etcd_backup_dir", None)
    if backup_dir is None:
        backup_dir = s.get("kubeops_etcd_backup_dir", "")
    if not backup_dir or host not in _names(s.get("cluster_inspection_etcd_backup_hosts"),
                                            "cluster_inspection_etcd_backup_hosts"):
        return []
    return [_check("etcd_backup_info", {
        "backup_dir": backup_dir, "copy_to": s.get("etcd_backup_copy_to", "") or None,
        "pattern": s.get("cluster_inspection_etcd_backup_pattern"),
        "warning_hours": s.get("cluster_inspection_etcd_backup_warning_hours"),
        "critical_hours": s.get("cluster_inspection_etcd_backup_critical_hours"),
        "missing_status": s.get("cluster_inspection_etcd_backup_missing_status")})]


def host_checks(s: Settings, host: str, group_names: list, groups: t.Mapping, play_hosts: list) -> list:
    """The host's checks, in the order the call runs them: units, logs, disks, certificates, hygiene, middleware,
    BGP sessions, etcd, installed versions, etcd snapshots. Raises SettingsError naming a missing or malformed
    setting."""
    group_names = list(group_names or [])
    groups_here = group_names + ["all"]
    return (unit_checks(s, groups_here) + log_checks(s, groups_here) + disk_checks(s)
            + cert_checks(s, host, group_names, groups_here) + hygiene_checks(s)
            + middleware_checks(s, middleware_here(s)) + calico_checks(s, host, groups)
            + etcd_checks(s, host, groups, list(play_hosts or [])) + version_checks(s, group_names)
            + etcd_backup_checks(s, host))
