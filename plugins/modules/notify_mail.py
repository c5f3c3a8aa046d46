# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: notify_mail
short_description: Mail a notification (the inspection summary) over SMTP with STARTTLS
version_added: 2.0.0
description:
  - Sends one plain-text mail, optionally with files attached (the self-contained HTML report), through an SMTP
    server. The C(kubeops.runbook.report) role uses it when C(inspection_notify_kind) is V(email).
  - Uses STARTTLS by default and refuses to go on when the server does not offer it. O(security=tls) connects with TLS
    from the start (port 465); O(security=none) sends in clear and is allowed only without credentials (an internal
    relay).
  - The password is C(no_log) and never appears in the result or an error message.
  - Python's own C(smtplib), C(ssl) and C(email) do the work. Nothing to install.
author:
  - kubeops.runbook maintainers (@kubeops)
extends_documentation_fragment:
  - kubeops.runbook.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is sent; the result says what would be.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run sends a mail.
options:
  host:
    description: The SMTP server.
    type: str
    required: true
  port:
    description: Its port; 587 (submission) for STARTTLS, 465 for O(security=tls).
    type: int
    default: 587
  security:
    description:
      - V(starttls) upgrades the connection with STARTTLS before anything else and fails when the server does not
        offer it. V(tls) uses TLS from the start. V(none) sends in clear (no credentials allowed).
    type: str
    choices: [starttls, tls, none]
    default: starttls
  username:
    description: User to log in as (with O(password)); none sends without logging in.
    type: str
  password:
    description: Password of O(username). Put it in a vault or an AWX credential; it is never logged.
    type: str
  sender:
    description: The From address.
    type: str
    required: true
  to:
    description: Recipients.
    type: list
    elements: str
    required: true
  subject:
    description: Subject line (one line; white space is folded).
    type: str
    required: true
  body:
    description: The text of the mail (UTF-8).
    type: str
    required: true
  attach:
    description: Files on the host running the module (the controller, for the report role) to attach.
    type: list
    elements: path
    default: []
  timeout:
    description: Seconds to wait for the server at each step.
    type: int
    default: 30
  validate_certs:
    description: Verify the server's certificate and host name. Turn off only for a test server.
    type: bool
    default: true
  ca_path:
    description: A PEM file of the certificate authorities to trust instead of the system's.
    type: path
"""

EXAMPLES = r"""
- name: Mail the inspection summary
  kubeops.runbook.notify_mail:
    host: smtp.example.com
    username: kubeops@example.com
    password: "{{ vault_kubeops_mail_password }}"
    sender: kubeops@example.com
    to: [ops@example.com]
    subject: "Inspection prod: CRITICAL"
    body: "{{ report_result.notify_text }}"
    attach: ["{{ report_result.paths.html }}"]
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description: What was sent (or, in check mode, would be) to whom.
  returned: always
  type: str
  sample: "sent 'Inspection prod: CRITICAL' to 2 recipients through smtp.example.com:587 (starttls)"
recipients:
  description: The recipients the server accepted (in check mode, all of O(to)).
  returned: success
  type: list
  elements: str
  sample: [ops@example.com]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeops.runbook.plugins.module_utils import _mail


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 587},
            "security": {"type": "str", "choices": list(_mail.SECURITY), "default": "starttls"},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "sender": {"type": "str", "required": True},
            "to": {"type": "list", "elements": "str", "required": True},
            "subject": {"type": "str", "required": True},
            "body": {"type": "str", "required": True},
            "attach": {"type": "list", "elements": "path", "default": []},
            "timeout": {"type": "int", "default": 30},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    where = f"{p['host']}:{p['port']} ({p['security']})"
    try:
        _mail.validate(p["host"], p["port"], p["security"], p["username"], p["password"], p["sender"], p["to"],
                       p["timeout"])
        mail = _mail.message(p["sender"], p["to"], p["subject"], p["body"], p["attach"])
        if module.check_mode:
            module.exit_json(changed=True, recipients=list(p["to"]),
                             msg=f"would send {mail['Subject']!r} to {len(p['to'])} recipients through {where}")
        accepted = _mail.send(mail, p["host"], p["port"], p["security"], p["username"], p["password"], p["timeout"],
                              _mail.tls_context(p["validate_certs"], p["ca_path"]))
    except _mail.MailError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=True, recipients=accepted,
                     msg=f"sent {mail['Subject']!r} to {len(accepted)} recipients through {where}")


if __name__ == "__main__":
    main()
