# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
"""

    # An info module that keeps its own bookkeeping on the host (the window of the previous inspection), never
    # anything it inspects.
    INFO_MODULE_STATE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - Changes nothing it inspects. Outside check mode it updates its own state file on the host (see O(state_file));
        in check mode it reads that file and leaves it alone, so a check run reports what a real run would.
  diff_mode:
    support: N/A
    details:
      - This action does not modify what it inspects.
  idempotent:
    support: full
    details:
      - The findings of two runs in a row differ only by what happened in between (the window moves on).
"""
