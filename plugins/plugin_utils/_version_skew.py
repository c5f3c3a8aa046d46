# -*- coding: utf-8 -*-
# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of the version skew check: the known-bad version files. PRIVATE to the collection."""
from __future__ import annotations

import os
import typing as t

import yaml

from ansible_collections.kubeops.runbook.plugins.module_utils._versions import VersionError, load_known_bad

# The list shipped with the collection (roles/cluster_inspection/files/known_bad_versions.yml).
BUILTIN_KNOWN_BAD = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "roles", "cluster_inspection",
                                                  "files", "known_bad_versions.yml"))


def read_known_bad_file(path: str) -> list[dict]:
    """The validated entries of one known-bad file: a YAML list of entries, or a mapping with the list in
    ``known_bad``. Raises VersionError naming the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise VersionError(f"known_bad_files: cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VersionError(f"known_bad_files: {path} is not YAML: {first}") from None
    if isinstance(data, dict) and "known_bad" in data:
        data = data["known_bad"]
    return load_known_bad(data if data is not None else [], source=path)


def known_bad(builtin: bool, files: t.Iterable[str], inline: t.Any) -> list[dict]:
    """The entries the check uses: the collection's list (``builtin``), then each file, then ``inline``."""
    entries: list[dict] = []
    if builtin:
        entries += read_known_bad_file(BUILTIN_KNOWN_BAD)
    for path in files or ():
        entries += read_known_bad_file(str(path))
    return entries + load_known_bad(inline or [], source="known_bad")
