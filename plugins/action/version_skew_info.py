# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeops.runbook.version_skew_info: compares the versions the inspection run found, on the controller.

No module is sent to any host: the comparison reads the findings already recorded on every host (the API check's
kube-apiserver version, each node's kubelet version, each etcd member's version, each host's ``versions.host``)
and records one finding per component kind, like every findings action (``FindingsActionBase``)."""
from __future__ import annotations

import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.kubeops.runbook.plugins.module_utils import _versions
from ansible_collections.kubeops.runbook.plugins.module_utils._findings import one_line
from ansible_collections.kubeops.runbook.plugins.plugin_utils import _history, _slices, _version_skew
from ansible_collections.kubeops.runbook.plugins.plugin_utils._findings_action import FindingsActionBase, recorded_findings

ARGUMENT_SPEC: dict[str, t.Any] = {
    "findings": {"type": "list", "elements": "dict"},
    "slice_dir": {"type": "path"},
    "builtin_known_bad": {"type": "bool", "default": True},
    "known_bad_files": {"type": "list", "elements": "path", "default": []},
    "known_bad": {"type": "list", "elements": "dict", "default": []},
    "kubelet_max_skew": {"type": "int"},
    "kubectl_max_skew": {"type": "int", "default": 1},
}


class ActionModule(FindingsActionBase):
    MODULE = "kubeops.runbook.version_skew_info"
    SCOPE = "cluster"
    FAILURE_ID = "versions.kubelet"

    def failure_targets(self, args, label):
        return _versions.failure_targets_fleet()

    def _execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):  # pylint: disable=arguments-differ
        """The comparison, here on the controller, instead of a module on the host; a bad option or file is a
        failed result, which the base turns into unknown findings."""
        del module_name, kwargs
        validated = ArgumentSpecValidator(ARGUMENT_SPEC).validate(dict(module_args or {}))
        if validated.error_messages:
            return {"failed": True, "msg": "; ".join(str(m) for m in validated.error_messages)}
        args = validated.validated_parameters
        try:
            entries = _version_skew.known_bad(args["builtin_known_bad"], args["known_bad_files"], args["known_bad"])
            findings = args["findings"] if args["findings"] is not None else self._run_findings(task_vars or {})
            if args["slice_dir"]:
                findings = list(findings) + self._partial_findings(args["slice_dir"], task_vars or {})
            return {"findings": _versions.fleet_findings(findings, entries, args["kubelet_max_skew"],
                                                         args["kubectl_max_skew"]),
                    "known_bad_entries": len(entries)}
        except (_versions.VersionError, _slices.SliceError) as exc:
            return {"failed": True, "msg": one_line(exc)}

    def _partial_findings(self, directory: str, task_vars: dict) -> list:
        """The findings of every partial a sliced run's slices wrote into ``directory`` (of this cluster)."""
        _path, cluster = _history.location(lambda name: self.var(task_vars, name))
        out: list = []
        for _file, doc in _slices.read_partials(directory, cluster):
            out += list(doc.get("findings") or [])
        return out

    @staticmethod
    def _run_findings(task_vars: dict) -> list:
        """Every finding recorded so far in this run, on every host and localhost (read raw: data the run stored)."""
        hostvars = task_vars.get("hostvars")
        groups = task_vars.get("groups") or {}
        names = list(dict.fromkeys(list(groups.get("all") or []) + ["localhost"]))
        raw_get = getattr(hostvars, "raw_get", None)
        out: list = []
        for host in names:
            try:
                hvars = raw_get(host) if raw_get is not None and host != "localhost" else hostvars[host]
            except (KeyError, TypeError):
                continue
            out += recorded_findings(hvars)
        return out
