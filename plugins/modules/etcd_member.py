# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_member
short_description: Add an etcd member as a learner and promote it, or remove a member, with quorum guards
version_added: 1.0.0
description:
  - Runs C(etcdctl member ...) against the existing members (run it on a host with etcdctl and client
    certificates, usually the first host of group C(etcd)).
  - O(state=present) refuses when any started voting member is unhealthy, when an earlier add left a member that
    never started, or when O(peer_url) belongs to another member; otherwise adds the member as a B(learner)
    (C(member add --learner)) and returns the C(--initial-cluster) the new member must start with
    (C(initial-cluster-state=existing), empty data directory).
  - With O(promote=true) it then waits (up to O(wait_timeout)) until the learner is in sync with the leader and
    promotes it (C(member promote)). The role C(kubeops.runbook.etcd_member) calls the module twice (add; start
    the new member; promote).
  - O(state=absent) refuses to remove the last member, or a member whose removal leaves fewer healthy voting
    members than the quorum of the remaining cluster (members are counted healthy by C(endpoint health) now).
    When both O(name) and O(peer_url) are given they must name the same member, else it refuses (a member that
    never started has no name yet and is found by its peer URL).
  - With O(member_endpoint), the client URL of the etcd on the host to remove, that etcd is asked what it is
    (C(endpoint status) - its cluster ID and member ID) and the member with that ID is removed, whatever its name or peer
    URLs (a member named C(etcd-master1) with the peer URL C(https://master1.example.com:2380) is found for the host
    C(master1)). An etcd there of another cluster, or of this cluster under an ID the member list does not show, is
    refused, and so are O(name) or O(peer_url) naming another member than it.
  - When that etcd does not answer (or O(member_endpoint) is not given), the member is the one called O(name), the one
    with O(peer_url), or the one with a peer URL - any of them, DNS names resolved on this host - on one of
    O(host_addresses); more than one is refused. None is no change, with RV(not_a_member=true) (the role
    C(kubeops.runbook.etcd_member) then still refuses to stop an etcd that is active on the host).
  - A run that fails after changing the cluster (for example added the learner, then could not promote it) fails
    with the audit record of what it did change.
  - A member that is already there (same name and peer URL, promoted) or already gone is no change. Check mode
    runs every guard and returns the plan.
  - The controller-side action plugin appends one line per change to the audit log C(kubeops_audit_log).
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  name:
    description: Member name (C(--name) of the etcd process), for example the inventory host name.
    type: str
    required: true
  peer_url:
    description:
      - Peer URL of the member, for example C(https://198.18.0.41:2380). Required with O(state=present).
      - With O(state=absent) it must be a peer URL of the member called O(name).
    type: str
  member_endpoint:
    description:
      - With O(state=absent), the client URL of the etcd on the host to remove, for example C(https://198.18.0.22:2379);
        the member ID that etcd reports identifies the member.
    type: str
    version_added: 2.0.0
  host_addresses:
    description:
      - With O(state=absent), addresses or names of the host to remove; a member with a peer URL on one of them is that
        host (used when O(member_endpoint) does not answer).
    type: list
    elements: str
    default: []
    version_added: 2.0.0
  state:
    description: V(present) adds (and promotes), V(absent) removes.
    type: str
    choices: [present, absent]
    default: present
  promote:
    description: With O(state=present), wait until the learner is in sync and promote it. The member must be started by then.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the learner to catch up before promotion fails.
    type: int
    default: 180
extends_documentation_fragment:
  - kubeops.runbook.etcd_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Add spare1 to etcd as a learner
  kubeops.runbook.etcd_member:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    cacert: /etc/etcd/ssl/ca.pem
    cert: /etc/etcd/ssl/etcd-client.pem
    key: /etc/etcd/ssl/etcd-client-key.pem
    name: spare1
    peer_url: https://198.18.0.41:2380
  delegate_to: "{{ groups['etcd'][0] }}"
  register: added

- name: Promote it once started and in sync
  kubeops.runbook.etcd_member:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    cacert: /etc/etcd/ssl/ca.pem
    cert: /etc/etcd/ssl/etcd-client.pem
    key: /etc/etcd/ssl/etcd-client-key.pem
    name: spare1
    peer_url: https://198.18.0.41:2380
    promote: true
  delegate_to: "{{ groups['etcd'][0] }}"

- name: Remove node2 (refused when it would break quorum)
  kubeops.runbook.etcd_member:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    name: node2
    state: absent

- name: Remove master1's member, whatever it is called, by the ID its own etcd reports
  kubeops.runbook.etcd_member:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    name: master1
    member_endpoint: https://192.0.2.1:2379
    host_addresses: [192.0.2.1, master1.example.com]
    state: absent
"""

RETURN = r"""
member:
  description: The member after the run (C(id) in hex as etcdctl prints it; V(null) when absent).
  returned: always
  type: dict
  sample: {"id": "777851f16cb9ec6a", "name": "spare1", "status": "started", "peer_urls": ["https://198.18.0.41:2380"],
           "client_urls": ["https://198.18.0.41:2379"], "is_learner": false}
members:
  description: The member list after the run (before it, in check mode).
  returned: always
  type: list
  elements: dict
actions:
  description: What was (or in check mode would be) done, in order, for example V(add learner spare1).
  returned: always
  type: list
  elements: str
initial_cluster:
  description: The C(--initial-cluster) value the new member must be started with.
  returned: when O(state=present)
  type: str
  sample: master1=https://198.18.0.11:2380,node1=https://198.18.0.21:2380,spare1=https://198.18.0.41:2380
initial_cluster_state:
  description: Always V(existing) for a member joining a running cluster.
  returned: when O(state=present)
  type: str
identified_by:
  description:
    - With O(state=absent), how the member was found - V(member_id) (what the host's etcd reported), V(name),
      V(peer_url), V(peer_url_address) (a peer URL on one of O(host_addresses)) - or V(null) when no member is that host.
  returned: when O(state=absent)
  type: str
host_etcd:
  description:
    - With O(member_endpoint), what the etcd there answered (C(cluster_id) and C(member_id) in hex), or C(answered=false)
      and etcdctl's error line.
  returned: when O(state=absent) and O(member_endpoint) is given
  type: dict
  sample: {"answered": true, "endpoint": "https://198.18.0.22:2379", "cluster_id": "f91c10a8f762993d", "member_id": "a574de1d6a56694"}
target:
  description: With O(state=absent), the member that is (or in check mode would be) removed, as it was before; V(null) when none.
  returned: when O(state=absent)
  type: dict
not_a_member:
  description:
    - With O(state=absent), true when no member of the cluster is that host (nothing to remove) - its etcd did not answer
      as a member and no member has its name, peer URL or a peer URL on its addresses.
  returned: when O(state=absent)
  type: bool
healthy_endpoints:
  description: Client URLs that answered C(endpoint health) as healthy.
  returned: always
  type: list
  elements: str
audit:
  description: Audit records of this run; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils._audit import record
from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import (
    ETCD_AUTH_SPEC, EtcdError, etcdctl_command, find_etcdctl, parse_endpoint_health, parse_endpoint_status)
from ansible_collections.kubeops.runbook.plugins.module_utils._etcd_member import (
    Cluster, MemberError, initial_cluster, member_id_hex, member_with_peer_url, parse_added, plan_add, plan_remove,
    resolve_host)

ARGUMENT_SPEC = {
    **ETCD_AUTH_SPEC,
    "name": {"type": "str", "required": True},
    "peer_url": {"type": "str"},
    "member_endpoint": {"type": "str"},
    "host_addresses": {"type": "list", "elements": "str", "default": []},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "promote": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 180},
}


def identify_host(module: AnsibleModule, cluster: Cluster, result: dict) -> tuple[dict | None, t.Any]:
    """What the etcd on ``member_endpoint`` says it is (None when not asked or no answer), and the cluster's ID."""
    endpoint = module.params.get("member_endpoint")
    if not endpoint:
        return None, None
    own, error = cluster.identity(endpoint, parse_endpoint_status)
    if own is None:
        result["host_etcd"] = {"answered": False, "endpoint": endpoint, "error": error}
        return None, None
    cluster_id = cluster.cluster_id()
    result["host_etcd"] = {"answered": True, "endpoint": endpoint, "cluster_id": member_id_hex(own["cluster_id"]),
                           "member_id": member_id_hex(own["member_id"]), "this_cluster": own["cluster_id"] == cluster_id}
    return own, cluster_id


def run_member(module: AnsibleModule, cluster: Cluster, resolve: t.Callable[[str], t.Collection[str]] = resolve_host) -> dict:
    """The plan and, unless in check mode, its steps; a step that fails after earlier ones changed the cluster still
    returns (with ``failed``) the audit record of what was done."""
    p = module.params
    members = cluster.members()
    healthy = cluster.healthy_urls(members, parse_endpoint_health)
    result: dict = {"changed": False, "actions": [], "healthy_endpoints": sorted(healthy)}
    done: list[str] = []

    def step(action: str, change: t.Callable[[], object]) -> None:
        result["actions"].append(action)
        result["changed"] = True
        if not module.check_mode:
            change()
            done.append(action)

    before = after = None
    try:
        if p["state"] == "absent":
            own, cluster_id = identify_host(module, cluster, result)
            plan = plan_remove(members, healthy, p["name"], p["peer_url"], own=own, cluster_id=cluster_id,
                               addresses=p.get("host_addresses") or [], resolve=resolve)
            target = plan["member"]
            before = target
            result["identified_by"] = plan["identified_by"]
            result["not_a_member"] = target is None
            result["target"] = target
            if plan["action"] == "remove":
                step(f"remove member {target['name'] or p['name']} ({target['id']})", lambda: cluster.remove(target["id"]))
                members = cluster.members() if not module.check_mode else members
            result["member"] = None if plan["action"] == "remove" else target
        else:
            plan = plan_add(members, healthy, p["name"], p["peer_url"])
            before = plan["member"] if plan["action"] != "add" else None
            result["initial_cluster"] = initial_cluster(members, p["name"], p["peer_url"])
            result["initial_cluster_state"] = "existing"
            member = plan["member"]
            if plan["action"] == "add":
                output: list[str] = []
                step(f"add learner {p['name']} {p['peer_url']}", lambda: output.append(cluster.add_learner(p["name"], p["peer_url"])))
                if not module.check_mode:
                    try:  # etcd has added it (exit code 0); its output only gives the --initial-cluster it computed
                        result["initial_cluster"] = parse_added(output[0]).get("ETCD_INITIAL_CLUSTER", result["initial_cluster"])
                    except MemberError as exc:
                        module.warn(f"{exc}; the member list is read instead")
                    members = cluster.members()
                    member = member_with_peer_url(members, p["peer_url"], "member add")
            if p["promote"] and member["is_learner"]:
                step(f"promote {p['name']} once in sync with the leader", lambda: cluster.promote(member["id"], p["wait_timeout"]))
                if not module.check_mode:
                    members = cluster.members()
                    member = member_with_peer_url(members, p["peer_url"], "member promote")
            result["member"] = member
            after = member
    except Exception as exc:  # pylint: disable=broad-exception-caught  # whatever failed after a change, report the change
        if not done:
            raise
        result.update(failed=True, msg=f"{exc} (after: {'; '.join(done)}; the cluster is changed, run again to finish)")
    result["members"] = members
    label = (before or after or {}).get("name") or p["name"]
    result["audit"] = [record(f"etcd_member {p['state']}", label, before, after,
                              actions=done if result.get("failed") else result["actions"],
                              **({"identified_by": result["identified_by"]} if result.get("identified_by") else {}),
                              **({"failed": result["msg"]} if result.get("failed") else {}))] if result["changed"] else []
    if module._diff:
        result["diff"] = {"before": {"member": before}, "after": {"member": after, "actions": result["actions"]}}
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("state", "present", ("peer_url",))])
    p = module.params
    etcdctl = find_etcdctl(p["etcdctl_path"])
    if not etcdctl:
        module.fail_json(msg=f"etcdctl_path={p['etcdctl_path']} not found on this host")

    def base(*args, endpoints=None, output_json=False):
        return etcdctl_command(p, *args, endpoints=endpoints, output_json=output_json, etcdctl=etcdctl)

    def run(argv, env):
        return module.run_command(argv, environ_update=env)

    try:
        cluster = Cluster(run, base, list(p["endpoints"]))
        result = run_member(module, cluster)
    except (MemberError, EtcdError) as exc:
        module.fail_json(msg=str(exc))
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
