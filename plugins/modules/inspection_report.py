# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/inspection_report.py, which runs on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: inspection_report
short_description: Write the daily inspection report (JSON, Markdown, HTML) and keep its history
version_added: 1.0.0
description:
  - Runs on the controller (action plugin). Collects every finding of the run from the C(kubeops_findings) fact
    (and variable) of all inventory hosts and C(localhost), which the inspection modules' actions record, and
    de-duplicates them by finding key (the worst status wins).
  - Derives the reachability of each targeted host itself, from what the run left on it, and adds one
    C(host.reachable) finding per host. V(ok) when the host finished the inspection (C(kubeops_inspection_done)). It is
    V(critical) when it never answered (its registered C(kubeops_inspection_gather) is unreachable, or nothing at
    all), when a task failed on it (C(kubeops_inspection_failed)), or when it stopped answering during a check
    (C(kubeops_inspection_lost), set by the findings action).
  - Compares the run with the previous run of the same cluster kept in the SQLite history and fills
    C(new_since_last) and C(resolved_since_last); only findings that are not V(ok) count.
  - Stores the run in the history, and the baselines of the run (C(kubeops_baselines) of C(localhost), e.g. the pod
    restart counts C(k8s_cluster_info) recorded). A run without a baseline (the API could not be read) leaves the
    last good one in place.
  - Writes C(inspection-<UTC time>.json), C(.md), C(.html) and C(latest.json) into O(report_dir). Every file is
    written to a temporary file and renamed, so a report is never half-written; C(latest.json) is written last.
  - The HTML report is one self-contained file (inline CSS and SVG, no scripts, fonts or images); every value is
    escaped. It shows the counts per status of the last O(trend_runs) runs and the findings that keep coming back.
  - Credentials in URLs (C(user:password@), C(?access_token=)) are replaced by C(<redacted>) in the report files,
    RV(notify_text) and the task output.
  - A run that targeted no host, or in which no check reported anything, gets an V(unknown) C(host.inspected)
    finding, since an inspection that inspected nothing is never V(ok).
  - Silences (O(rules)) mark the findings they select; a silenced finding stays in the report and the history but
    does not count towards the status in RV(summary) and is not notified. Routes select problems for other webhooks
    (RV(routes)), as C(docs/silences.md) explains.
  - Writes the report for machines too, where asked. O(prometheus_textfile) is a node_exporter textfile-collector
    file, and O(junit_file) a JUnit XML file for CI gates (C(docs/report.md)).
  - Sliced runs (AWX job slicing). With O(slice_dir), a slice writes its partial findings there instead of a report.
    With O(merge), the report step of the run merges every partial of O(slice_dir) (and its own findings) into one
    report and one history entry, then removes the partials (C(docs/awx.md)).
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: partial
    details:
      - The report is written in check mode as well. It is the product of an inspection run, which changes
        nothing on the inspected hosts; only the report directory and the history database on the controller
        are written.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run writes a new timestamped report and a new history entry.
options:
  cluster:
    description:
      - Name of the cluster in the report; history is kept per cluster name.
      - Defaults to C(inspection_cluster_name), else C(kubeops_cluster_name), else V(kubernetes).
    type: str
  report_dir:
    description:
      - Directory for the reports on the controller, created when missing. Relative to the working directory.
      - Defaults to C(inspection_report_dir), else V(./reports).
    type: path
  history_db:
    description: SQLite history file. Defaults to C(inspection_history_db), else C(history.sqlite) in O(report_dir).
    type: path
  targeted_hosts:
    description:
      - Hosts the inspection play targeted. Defaults to C(kubeops_inspection_targeted) of C(localhost), which
        C(playbooks/daily_inspection.yml) records (C(ansible_play_hosts_all) of its inspection play).
    type: list
    elements: str
  reachable_hosts:
    description:
      - Override of the derived reachability, for callers that track it themselves (C(ansible_play_hosts) at the
        end of their play). Hosts of O(targeted_hosts) missing here get a critical C(host.reachable) finding.
    type: list
    elements: str
  collect_hostvars:
    description:
      - Collect the C(kubeops_findings) of every inventory host and of C(localhost), and the facts that tell each
        targeted host's reachability.
    type: bool
    default: true
  findings:
    description: More findings to include, in the findings model of the collection (counted as coming from C(localhost)).
    type: list
    elements: raw
    default: []
  started:
    description:
      - When the inspection started (ISO 8601, UTC). Defaults to C(kubeops_inspection_started) of C(localhost), else
        the time the report is written.
    type: str
  baselines:
    description:
      - Values the checks of the next run compare with, by name (C(pod_restarts)), each a dict with C(taken).
        Stored in the history (one per cluster and name, replaced only by a new one) and in the report as C(baselines).
      - Defaults to the C(kubeops_baselines) fact of C(localhost).
    type: dict
  trend_runs:
    description: Runs (this one included) the trend chart and the recurring findings of the report cover, 2 to 365.
    type: int
    default: 30
    version_added: 1.1.0
  flapping_runs:
    description:
      - Runs (this one included) in which a finding's status changes are counted to mark it flapping, 3 to 365.
      - The history is read once for all findings (C(docs/report.md)).
    type: int
    default: 10
    version_added: 2.0.0
  flapping_changes:
    description:
      - A finding whose status changed this many times or more in the last O(flapping_runs) runs is marked
        C(flapping) (V(true)), with C(flapping_statuses) (oldest first, this run last, V(null) where its host was not
        inspected). At least 2, less than O(flapping_runs).
    type: int
    default: 3
    version_added: 2.0.0
  group_by_cause:
    description:
      - One cause first. When a host is down (C(host.reachable) critical, unreachable or lost) or a Node NotReady, the
        findings that follow from it (its Node, its pods and their workloads and Services, the BGP sessions and the
        etcd member naming its address or name, the etcd quorum warning) get C(caused_by) with the key of that root
        finding, and the root gets C(consequences), their count. The Markdown and HTML reports show them under their
        cause and start with e.g. C(node2 is down (7 findings follow from it)).
      - Nothing is removed and no status changes; the counts still count every finding. Matching is exact on the
        host's inventory name, its Node's name and its C(ansible_host) (C(docs/report.md)).
    type: bool
    default: true
    version_added: 2.0.0
  report_mode:
    description:
      - File mode of the report files (octal string, or an integer), C(latest.json) included. Reports hold log lines,
        probe URLs and host details, so they are not world-readable by default. The owner keeps read and write access.
      - A report directory created by this plugin gets the matching directory mode (V(0640) gives V(0750)).
      - C(history.sqlite) is always V(0600).
    type: raw
    default: "0640"
    version_added: 1.1.0
  template_dir:
    description:
      - Directory holding C(inspection_report.html.j2) and C(inspection_report.md.j2).
        Defaults to the templates of the C(kubeops.runbook.report) role.
    type: path
  fail_on:
    description:
      - Worst status at or above which RV(should_fail) is true (V(never) turns it off).
      - The plugin itself does not fail; the C(report) role fails the play after the report is written.
    type: str
    default: never
    choices: [never, warning, unknown, critical]
  notify_on:
    description: Worst status at or above which RV(should_notify) is true (V(never) turns it off).
    type: str
    default: critical
    choices: [never, warning, unknown, critical]
  notify_limit:
    description: How many of the worst findings RV(notify_text) lists.
    type: int
    default: 5
  rules:
    description:
      - Silences and notification routes, a dict with the lists C(silences) and C(routes). Each rule has a JMESPath
        expression C(match), evaluated over the list of the run's findings (C(docs/silences.md)).
      - A silence has C(match), C(until) (a date, meaning through its end in UTC, or an ISO timestamp), C(reason) and
        an optional C(name). A route has C(name) and C(match).
      - Needs the Python library C(jmespath) on the controller.
    type: dict
    version_added: 1.1.0
  rules_file:
    description: A YAML file on the controller with the O(rules). Mutually exclusive with O(rules).
    type: path
    version_added: 1.1.0
  slice_dir:
    description:
      - Directory, shared by the slices of a sliced run and its merge step, for the slices' partial findings.
      - Without O(merge), this run is one slice. It writes its partial there (RV(partial)), and no report, no history
        entry and no notification.
    type: path
    version_added: 1.1.0
  merge:
    description:
      - Merge every partial of O(slice_dir) with this run's own findings into one report and one history entry, as one
        unsliced run would have written, then remove the merged partials. A partial of another cluster or that cannot
        be read fails the step before anything is written.
    type: bool
    default: false
    version_added: 1.1.0
  expected_hosts:
    description:
      - With O(merge), the hosts the slices should have inspected. One that no partial reports gets a critical
        C(host.reachable) finding (its slice did not run or did not finish).
    type: list
    elements: str
    version_added: 1.1.0
  prometheus_textfile:
    description:
      - Also write the findings in the Prometheus text format for node_exporter's textfile collector. The path must
        end in C(.prom) and its directory (node_exporter's C(--collector.textfile.directory)) must exist.
      - "One series C(kubeops_inspection_finding{cluster,host,check,target,status,silenced}) per finding (C(host)
        empty for the cluster-wide checks), C(kubeops_inspection_findings{cluster,status}) per status,
        C(kubeops_inspection_silenced_findings), C(kubeops_inspection_last_run_timestamp_seconds) and
        C(kubeops_inspection_last_run_duration_seconds)."
      - Written atomically after the report, mode V(0644), since node_exporter runs as its own user and the file holds
        no summaries or log lines. A slice writes none; the merge step does.
    type: path
    version_added: 2.0.0
  junit_file:
    description:
      - Also write the findings as JUnit XML, for CI systems. It holds one test suite and one test case per
        finding, the C(classname) being the check and the C(name) the target (with C(@host) when the host adds to
        it).
      - A finding at or above O(junit_fail_on) is a C(failure) (its summary as the message, its details as the text),
        a silenced finding is C(skipped), and the others pass. Its directory is created; it gets O(report_mode).
    type: path
    version_added: 2.0.0
  junit_fail_on:
    description: Status at or above which a finding is a failure in O(junit_file) (V(never) makes none).
    type: str
    default: critical
    choices: [never, warning, unknown, critical]
    version_added: 2.0.0
  stats_name:
    description:
      - Publish the run's outcome (RV(stats)) as the custom stat of this name, as M(ansible.builtin.set_stats) with
        C(per_host=false) and C(aggregate=false) would (AWX keeps it as the job's artifacts); not set, nothing is
        published. The C(report) role sets V(kubeops_inspection).
    type: str
    version_added: 2.0.0
"""

EXAMPLES = r"""
# After an inspection play that recorded kubeops_inspection_targeted/started on localhost (as the daily
# inspection playbook does): everything else comes from the hosts' facts.
- name: Write the inspection report
  kubeops.runbook.inspection_report:
    cluster: "{{ kubeops_cluster_name }}"
    report_dir: /var/lib/kubeops/reports
  check_mode: false
  register: kubeops_report

- name: Show where the report is
  ansible.builtin.debug:
    msg: "{{ kubeops_report.summary.status }}: {{ kubeops_report.paths.html }}"
"""

RETURN = r"""
msg:
  description: One line with the worst status, the counts and where the HTML report is.
  returned: success
  type: str
  sample: "CRITICAL: {'status': 'critical', 'ok': 120, 'warning': 3, 'unknown': 0, 'critical': 1}; report /srv/reports/inspection-20250101T090102Z.html"
cluster:
  description: The cluster name the run was recorded under.
  returned: success
  type: str
  sample: erp-prod
reachability:
  description: What the run left on each targeted host, V(reachable), V(unreachable), V(failed) or V(lost).
  returned: success
  type: dict
  sample: {"master1": "reachable", "ghost": "unreachable"}
baselines_recorded:
  description: Names of the baselines stored in the history by this run (none when the API could not be read).
  returned: success
  type: list
  elements: str
  sample: ["pod_restarts"]
summary:
  description: Worst status and the number of findings per status.
  returned: success
  type: dict
  sample: {"status": "critical", "ok": 120, "warning": 3, "unknown": 0, "critical": 1}
new_since_last:
  description: Keys of findings that are not ok now and were ok or absent in the previous run.
  returned: success
  type: list
  elements: str
  sample: ["control_plane_services.unit:kube-scheduler@master1"]
resolved_since_last:
  description: Keys of findings that were not ok in the previous run and are ok or absent now.
  returned: success
  type: list
  elements: str
  sample: []
paths:
  description: Absolute paths of the files written.
  returned: success
  type: dict
  contains:
    json:
      description: The report document.
      type: str
      returned: success
    markdown:
      description: The Markdown report.
      type: str
      returned: success
    html:
      description: The self-contained HTML report.
      type: str
      returned: success
    latest:
      description: C(latest.json), a copy of the report document.
      type: str
      returned: success
    prometheus:
      description: The Prometheus textfile (O(prometheus_textfile)).
      type: str
      returned: when O(prometheus_textfile) is set
      version_added: 2.0.0
    junit:
      description: The JUnit XML file (O(junit_file)).
      type: str
      returned: when O(junit_file) is set
      version_added: 2.0.0
  sample: {"json": "/srv/reports/inspection-20250101T090102Z.json", "latest": "/srv/reports/latest.json"}
history_db:
  description: Absolute path of the SQLite history.
  returned: success
  type: str
  sample: /srv/reports/history.sqlite
findings_count:
  description: Number of findings in the report.
  returned: success
  type: int
  sample: 124
should_fail:
  description: Whether the worst status reaches O(fail_on) (the plugin itself does not fail; the C(report) role does).
  returned: success
  type: bool
  sample: false
should_notify:
  description: Whether the worst status reaches O(notify_on).
  returned: success
  type: bool
  sample: true
notify_text:
  description: A short Markdown summary for a chat robot or webhook (silenced findings left out).
  returned: success
  type: str
  sample: "### Inspection lab: CRITICAL"
silences:
  description: Each silence of O(rules), V(active) or V(expired), with how many findings it selects.
  returned: success, except for a slice
  type: list
  elements: dict
  sample: [{"name": "mw1-logs", "match": "[?host=='mw1']", "reason": "migration", "until": "2027-01-01T00:00:00Z",
            "state": "active", "matched": 4}]
  version_added: 1.1.0
routes:
  description: For each route of O(rules) that selects a problem, the notification text of those problems.
  returned: success, except for a slice
  type: dict
  sample: {"etcd-oncall": "### Inspection lab: CRITICAL"}
  version_added: 1.1.0
flapping:
  description: The keys of the findings marked flapping (O(flapping_changes) or more status changes in the last
    O(flapping_runs) runs).
  returned: success, except for a slice
  type: list
  elements: str
  sample: ["services.endpoints:product/oltp-gateway-1-3-0"]
  version_added: 2.0.0
causes:
  description: The roots that findings follow from (O(group_by_cause)), most consequences first.
  returned: success, except for a slice
  type: list
  elements: dict
  sample: [{"key": "host.reachable:node2", "what": "node2 is down", "status": "critical", "consequences": 7}]
  version_added: 2.0.0
slices:
  description: How many slices' partials the merge step merged (0 for an unsliced run).
  returned: success, except for a slice
  type: int
  sample: 2
  version_added: 1.1.0
partial:
  description: For a slice (O(slice_dir) without O(merge)), the partial it wrote.
  returned: for a slice
  type: str
  sample: /shared/kubeops/run-1/partial-20261130T090003Z-0a1b2c3d4e5f.json
  version_added: 1.1.0
stats:
  description:
    - The outcome for AWX job artifacts (published as the custom stat O(stats_name); the C(report) role names it
      C(kubeops_inspection)),
      so that a workflow can branch on it. C(new) and C(resolved) list at most 100 keys; the counts are complete.
    - Since 2.0.0 also C(flapping), how many findings are flapping, and C(causes), the roots findings follow from
      (C(key), C(what), C(consequences)).
  returned: success
  type: dict
  sample: {"cluster": "lab", "status": "critical", "summary": {"status": "critical", "ok": 120, "critical": 1},
           "findings": 124, "hosts": {"targeted": 5, "inspected": 5}, "new_since_last": 1, "new": ["nodes.ready:node2"],
           "resolved_since_last": 0, "resolved": [], "report": {"html": "/srv/reports/inspection-20261130T090102Z.html"},
           "slices": 0}
  version_added: 1.1.0
"""
