# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/version_skew_info.py, which runs on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: version_skew_info
short_description: Compare the versions of the fleet with the version skew policy and with known-bad versions
version_added: 2.0.0
description:
  - Runs on the controller (action plugin), once per inspection, after the host and cluster checks; no module is
    sent to any host and no API call is made. It reads the versions the run already found in the findings recorded on
    every inventory host and C(localhost) (C(kubeops_findings)), or in O(findings) - the kube-apiserver version of
    C(control_plane_services.api), the kubelet version of each node (C(nodes.ready)), each etcd member's version
    (C(etcd.member)) and the kube-proxy and kubectl versions of each host (C(versions.host), the host check
    C(component_versions) of C(host_inspection_info)).
  - "Skew (U(https://kubernetes.io/releases/version-skew-policy/)): a kubelet or kube-proxy newer than kube-apiserver,
    or more minor versions older than the policy of the running kube-apiserver allows (3 since 1.28, 2 before), is a
    warning; so is a kubectl more than one minor version away, and etcd members on different versions."
  - Known-bad versions (a data file with the reason and a link for each range) make a warning, or a critical where
    the entry says so, naming the reason. The collection ships a list (O(builtin_known_bad)); add your own with
    O(known_bad_files) or O(known_bad).
  - One finding per component kind (C(versions.kube_apiserver), C(versions.kubelet), C(versions.kube_proxy),
    C(versions.kubectl), C(versions.etcd)) with each node's, member's or host's version in its details; a component
    no finding told a version of gets none. A version that is not a release version (for example a kwok node's
    C(kwok-0.6.1)) makes the finding V(unknown).
  - A bad option or known-bad file gives V(unknown) findings for every component kind, C(check could not run), not a
    failure.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
  - kubeops.runbook.attributes.info_module
options:
  findings:
    description:
      - The findings to read the versions from. When not given, every finding recorded in this run on every inventory
        host and C(localhost).
    type: list
    elements: dict
  slice_dir:
    description:
      - The merge step of a sliced inspection (C(playbooks/inspection_merge.yml)) - the directory the slices wrote
        their partials into. The findings of every partial there (each slice's hosts, with their kube-proxy and kubectl
        versions) are compared too, beside this run's (the cluster-wide checks the merge runs once); no slice sees the
        whole fleet. A partial that cannot be read makes every C(versions.*) finding V(unknown), naming the file.
    type: path
    version_added: 2.0.0
  builtin_known_bad:
    description: Use the known-bad list shipped with the collection (C(roles/cluster_inspection/files/known_bad_versions.yml)).
    type: bool
    default: true
  known_bad_files:
    description:
      - More known-bad lists, YAML files on the controller. Each is a list of entries (or a mapping with the list
        under C(known_bad)); an entry has C(component) (V(kube-apiserver), V(kubelet), V(kube-proxy), V(kubectl),
        V(etcd)), C(from) (first affected version, inclusive) and/or C(fixed) (first fixed version, exclusive),
        C(reason), optional C(url) and C(status) (V(warning), the default, or V(critical)).
    type: list
    elements: path
    default: []
  known_bad:
    description: More known-bad entries, as in a file of O(known_bad_files).
    type: list
    elements: dict
    default: []
  kubelet_max_skew:
    description:
      - Minor versions a kubelet or kube-proxy may be older than kube-apiserver. Not set, the policy of the running
        kube-apiserver (3 since 1.28, 2 before).
    type: int
  kubectl_max_skew:
    description: Minor versions kubectl may be away from kube-apiserver, either way.
    type: int
    default: 1
"""

EXAMPLES = r"""
# In the daily inspection (after the host and cluster checks, before the report):
- name: Compare the versions of the fleet
  kubeops.runbook.version_skew_info:
    known_bad_files: [/etc/kubeops/known_bad_versions.yml]

# On findings of your own
- name: Check one etcd version against the known-bad list
  kubeops.runbook.version_skew_info:
    findings:
      - {id: etcd.member, target: etcd1, status: ok, details: {status: {version: 3.5.1}}}
  register: skew
"""

RETURN = r"""
findings:
  description: One finding per component kind, of the one findings model.
  returned: always
  type: list
  elements: dict
  sample:
    - id: versions.etcd
      category: versions
      target: cluster
      host: null
      status: critical
      summary: "etcd: etcd1 3.5.1: known bad: data inconsistency after a crash (etcd-io/etcd#13766), fixed in 3.5.3"
      details: {versions: {etcd1: 3.5.1}, problems: {etcd1: ["known bad: ..."]}}
known_bad_entries:
  description: Number of known-bad entries compared with.
  returned: success
  type: int
  sample: 9
"""
