"""Version skew and known-bad versions on the lab: the versions of the lab's own hosts (kube-proxy on node1, kubectl on
master1, read in the host call), nodes (kubelet) and etcd members, compared on the controller by version_skew_info.
The healthy lab is clean with the shipped known-bad list; a known-bad file naming the lab's own etcd version makes the
etcd finding say so. Nothing on the lab is changed."""
from __future__ import annotations

import json

PLAYBOOK = """
- name: Versions the hosts report, in their inspection call
  hosts: master1:node1
  gather_facts: false
  tasks:
    - name: Read kube-proxy and kubectl, and on master1 the etcd cluster
      kubeops.runbook.host_inspection_info:
        checks: >-
          {{ [{'check': 'component_versions', 'options': {
                'components': ['kubectl'] if inventory_hostname == 'master1' else ['kube-proxy'],
                'bin_dirs': [kubeops_k8s_bin_dir]}}]
             + ([{'check': 'etcd_cluster_info', 'options': {
                   'endpoints': kubeops_etcd_endpoints, 'cacert': kubeops_etcd_cacert, 'cert': kubeops_etcd_cert,
                   'key': kubeops_etcd_key, 'member_hosts': {'198.18.0.11': 'master1', '198.18.0.21': 'node1',
                                                             '198.18.0.22': 'node2'}}}]
                if inventory_hostname == 'master1' else []) }}

- name: The cluster and the comparison, on the controller
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Nodes and the API server version
      kubeops.runbook.k8s_cluster_info:
        kubeconfig: "{{ kubeops_kubeconfig }}"
        checks: [nodes]
        restart_baseline: {}

    - name: Compare with the shipped known-bad list
      kubeops.runbook.version_skew_info: {}
      register: shipped

    - name: Compare with a known-bad file that lists the lab's etcd
      kubeops.runbook.version_skew_info:
        builtin_known_bad: false
        known_bad_files: ["{{ known_bad_file }}"]
      register: own

    - name: Save what they found
      ansible.builtin.copy:
        content: "{{ {'shipped': shipped.findings, 'own': own.findings} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""

KNOWN_BAD = """
- component: etcd
  from: 3.4.23
  fixed: 3.4.24
  status: warning
  reason: the lab's own etcd, listed by the test
  url: https://example.invalid/lab
"""


def test_versions_of_the_lab(lab, tmp_path):
    playbook = tmp_path / "versions.yml"
    playbook.write_text(PLAYBOOK)
    known_bad = tmp_path / "known_bad.yml"
    known_bad.write_text(KNOWN_BAD)
    out = tmp_path / "out.json"
    proc = lab.playbook(str(playbook), extra_vars={"known_bad_file": str(known_bad), "out": str(out)})
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    found = json.loads(out.read_text())
    shipped = {f["id"]: f for f in found["shipped"]}
    assert set(shipped) == {"versions.kube_apiserver", "versions.kubelet", "versions.kube_proxy", "versions.kubectl",
                            "versions.etcd"}, shipped
    # the healthy lab: one release everywhere, no known-bad version
    assert {f["id"]: f["status"] for f in shipped.values()} == {fid: "ok" for fid in shipped}, \
        [f["summary"] for f in shipped.values()]
    assert shipped["versions.kube_proxy"]["details"]["versions"] == {"node1": "v1.30.14"}
    assert shipped["versions.kubectl"]["details"]["versions"] == {"master1": "v1.30.14"}
    assert shipped["versions.kubelet"]["details"]["versions"]["node1"] == "v1.30.14"
    etcd_versions = shipped["versions.etcd"]["details"]["versions"]
    assert set(etcd_versions) == {"master1", "node1", "node2"} and set(etcd_versions.values()) == {"3.4.23"}
    own = {f["id"]: f for f in found["own"]}
    assert own["versions.etcd"]["status"] == "warning"
    assert "master1 3.4.23: known bad: the lab's own etcd, listed by the test" in own["versions.etcd"]["summary"]
    assert own["versions.etcd"]["details"]["known_bad"][0]["url"] == "https://example.invalid/lab"
    assert own["versions.kubelet"]["status"] == "ok"
