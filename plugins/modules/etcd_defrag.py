# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_defrag
short_description: Compact etcd, defragment its members one at a time (leader last) and disarm NOSPACE once safe
version_added: 2.0.0
description:
  - etcd's routine care through C(etcdctl) (v3 API), run on a host with etcdctl and the client certificates (usually
    the first host of group C(etcd)).
  - "Refuses before any change when a member is unhealthy or gives no status, when the members do not agree on one
    leader, when a C(CORRUPT) alarm is raised, or when the cluster has no spare quorum: a member that is being
    defragmented does not answer, so the others must still form a quorum (three members or more)."
  - With O(compact=true), first compacts the keyspace to the current revision (C(etcdctl compaction --physical)); a
    revision that was already compacted is no change.
  - Then defragments (C(etcdctl defrag)) one member at a time - the followers first, the leader last, the leader read
    again before each member - and after each waits up to O(member_timeout) seconds until every member is healthy and
    they agree on a leader again. A member that does not come back stops the run; the members not defragmented yet
    are untouched.
  - Returns the database size of each member before and after and the space freed.
  - A C(NOSPACE) alarm is disarmed (C(etcdctl alarm disarm)) only once every member's database is under
    O(quota_backend_bytes) again; otherwise the module fails after the defragmentation, saying which members are
    still over the quota (etcd would raise the alarm again at once).
  - The controller-side action plugin appends one line per compaction, defragmented member and disarmed alarm to the
    audit log C(kubeops_audit_log), also when the module fails half-way.
author:
  - kubeops.runbook maintainers (@kubeops)
options:
  compact:
    description: Compact the keyspace to the current revision before defragmenting (older revisions are lost for good).
    type: bool
    default: false
  defrag_timeout:
    description: Seconds one C(defrag) (or the compaction) may take (etcdctl's C(--command-timeout) for that call).
    type: int
    default: 300
  member_timeout:
    description: Seconds to wait, after each member, for the whole cluster to be healthy again.
    type: int
    default: 120
  quota_backend_bytes:
    description: The members' C(--quota-backend-bytes) (etcd's default is 2 GiB); C(NOSPACE) is disarmed only below it.
    type: int
    default: 2147483648
  disarm_nospace:
    description: Disarm a C(NOSPACE) alarm once every member is back under the quota.
    type: bool
    default: true
extends_documentation_fragment:
  - kubeops.runbook.etcd_auth
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the cluster, applies every guard and returns the order a run would take now (RV(plan)) with the space
        each member would free by its own estimate (C(dbSize - dbSizeInUse)); changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: none
    details:
      - Every run defragments every member again (a defragmented database simply stays small).
"""

EXAMPLES = r"""
- name: Compact and defragment etcd, leader last
  kubeops.runbook.etcd_defrag:
    endpoints: "{{ kubeops_etcd_endpoints }}"
    cacert: /etc/etcd/ssl/ca.pem
    cert: /etc/etcd/ssl/etcd-client.pem
    key: /etc/etcd/ssl/etcd-client-key.pem
    compact: true
  delegate_to: "{{ groups['etcd'][0] }}"
  register: defrag

- name: Show the space freed
  ansible.builtin.debug:
    msg: "{{ defrag.members | map(attribute='name') | zip(defrag.members | map(attribute='freed')) | list }}"
"""

RETURN = r"""
leader:
  description: The leader when the run started.
  returned: always
  type: str
  sample: master1
plan:
  description:
    - The members in the order a run takes them now - C(name), C(endpoint), C(role), C(db_size), C(db_size_in_use),
      C(estimated_free) and C(line), one line for an operator.
  returned: always
  type: list
  elements: dict
members:
  description:
    - The members defragmented, in order - C(name), C(endpoint), C(role) (follower, learner or leader), C(before) and
      C(after) (C(db_size), C(db_size_in_use) in bytes), C(freed) bytes, C(seconds) until the cluster was healthy
      again and C(line), one line for an operator.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "node1", "role": "follower", "before": {"db_size": 5251072}, "after": {"db_size": 1212416}, "freed": 4038656}]
freed:
  description: Bytes freed on all members together.
  returned: always
  type: int
compaction:
  description: With O(compact), the revision compacted to and whether it was (V(false) when it already was).
  returned: always
  type: dict
nospace:
  description: Whether a NOSPACE alarm was raised, whether it was (or would be) disarmed, and why.
  returned: always
  type: dict
alarms_before:
  description: Alarms raised when the run started.
  returned: always
  type: list
  elements: str
alarms:
  description: Alarms raised when the run ended.
  returned: always
  type: list
  elements: str
audit:
  description: Audit records of this run; the action plugin writes them to the audit log.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils._etcd import (
    ETCD_AUTH_SPEC, EtcdError, find_etcdctl, normalize_endpoints)
from ansible_collections.kubeops.runbook.plugins.module_utils._etcd_defrag import (
    DEFAULT_QUOTA, DefragError, DefragFailed, Etcd, Options, command_builder, maintain)

ARGUMENT_SPEC = {
    **ETCD_AUTH_SPEC,
    "compact": {"type": "bool", "default": False},
    "defrag_timeout": {"type": "int", "default": 300},
    "member_timeout": {"type": "int", "default": 120},
    "quota_backend_bytes": {"type": "int", "default": DEFAULT_QUOTA},
    "disarm_nospace": {"type": "bool", "default": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    etcdctl = find_etcdctl(p["etcdctl_path"])
    if not etcdctl:
        module.fail_json(msg=f"etcdctl_path={p['etcdctl_path']} not found on this host")

    def run(argv, env):
        return module.run_command(argv, environ_update=env)

    opts = Options(p["compact"], p["defrag_timeout"], p["member_timeout"], p["quota_backend_bytes"], p["disarm_nospace"])
    try:
        result = maintain(Etcd(run, command_builder(p, etcdctl), normalize_endpoints(p["endpoints"])), opts,
                          module.check_mode)
    except DefragFailed as exc:
        module.fail_json(msg=str(exc), **_shown(module, exc.result))
    except (DefragError, EtcdError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**_shown(module, result))


def _shown(module: AnsibleModule, result: dict) -> dict:
    if module._diff:
        result["diff"] = {"before": {m["name"]: m["before"] for m in result["members"]} or
                          {m["name"]: {"db_size": m["db_size"]} for m in result["plan"]},
                          "after": {m["name"]: m["after"] for m in result["members"]} or
                          {m["name"]: {"db_size": m["db_size_in_use"]} for m in result["plan"]}}
    return result


if __name__ == "__main__":
    main()
