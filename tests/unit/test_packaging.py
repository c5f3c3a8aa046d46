"""The collection as it ships: role READMEs and metadata, links in the shipped Markdown, the AWX definitions under
docs/awx/ and the project's collections/requirements.yml. (`make package` checks the built tarball itself with
galaxy-importer and ansible-builder; these checks are the fast part of the same contract.)"""
from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
AWX = ROOT / "docs" / "awx"


def shipped(relative: str) -> bool:
    """Whether a path (relative to the collection root) goes into the tarball, by galaxy.yml's build_ignore."""
    parts = Path(relative).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return not any(fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(Path(prefix).name, pattern)
                   for prefix in prefixes for pattern in GALAXY["build_ignore"])


def argument_spec_options() -> set[str]:
    names: set[str] = set()
    for spec in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names |= set(entry.get("options") or {})
    return names


# -- roles ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_role_has_a_readme_galaxy_accepts(role):
    readme = ROOT / "roles" / role / "README.md"
    assert readme.is_file(), f"roles/{role}/README.md is missing (galaxy-importer refuses the collection without it)"
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"# kubeops.runbook.{role}\n")
    for section in ("## Requirements", "## Role variables", "## Example playbook", "## License"):
        assert section in text, f"roles/{role}/README.md has no '{section}' section"


@pytest.mark.parametrize("role", ROLES)
def test_role_metadata_states_supported_targets(role):
    info = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())["galaxy_info"]
    # ansible-core 2.17+ manages Python 3.7+ only (and this collection 3.8+): EL 7 (Python 3.6) is not a target.
    for platform in info["platforms"]:
        if platform["name"] == "EL":
            assert "7" not in [str(v) for v in platform["versions"]]
    assert "Python 3.8" in info["description"] or "Runs on the controller" in info["description"]
    assert info["min_ansible_version"] == "2.17"


# -- what ships -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, expected", [
    ("plugins/modules/etcd_snapshot.py", True), ("roles/report/README.md", True), ("docs/awx/credential_types.yml", True),
    ("LICENSE", True), ("requirements.txt", True), ("bindep.txt", True), ("execution-environment.yml", True),
    ("inventories/example/hosts.yml", True),
    ("tests/unit/test_packaging.py", False), ("lab/api.py", False), ("bench/__main__.py", False),
    ("molecule/daily_inspection/molecule.yml", False), (".gitignore", False), (".ci/run", False), ("Makefile", False),
    ("ansible.cfg", False), ("test-requirements.txt", False), ("inventories/lab/hosts.yml", False),
    ("collections/requirements.yml", False), ("CONTRIBUTING.md", False),
])
def test_build_ignore_keeps_development_files_out(path, expected):
    assert shipped(path) is expected


def markdown_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)   # code blocks hold no links
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", text)
            if not re.match(r"[a-z]+:|#", target)]


SHIPPED_MARKDOWN = sorted(p.relative_to(ROOT).as_posix()
                          for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "roles").glob("*/README.md")])


@pytest.mark.parametrize("document", SHIPPED_MARKDOWN)
def test_shipped_markdown_links_to_shipped_files(document):
    for target in markdown_links(ROOT / document):
        resolved = (ROOT / document).parent / target.split("#")[0]
        assert resolved.exists(), f"{document} links to {target}, which does not exist"
        relative = resolved.resolve().relative_to(ROOT).as_posix()
        assert shipped(relative), f"{document} links to {target}, which the tarball leaves out"


def test_readme_links_work_where_galaxy_shows_it():
    """Galaxy renders README.md on a page of its own, where a link relative to the collection leads nowhere: every
    link of the README is absolute, and the files it refers to are named as paths of the installed collection."""
    text = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links and all(re.match(r"https://", target) for target in links), links
    assert "ansible-galaxy collection install kubeops.runbook" in (ROOT / "README.md").read_text()


def test_runtime_requirements_are_ranges_and_separate_from_the_tools():
    runtime = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert [re.split(r"[<>=!~ ]", line)[0] for line in runtime] == ["kubernetes", "jmespath"]
    assert not any("==" in line for line in runtime)
    tools = (ROOT / "test-requirements.txt").read_text()
    assert "ansible-core==" in tools and "molecule==" in tools


# -- the execution environment ---------------------------------------------------------------------------------
def test_execution_environment_pins_its_base_and_takes_kubectl_of_the_labs_minor_from_its_package_repository():
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    image = ee["images"]["base_image"]["name"]
    assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+", image), f"base image {image} is not at a fixed version tag"
    steps = "\n".join(ee["additional_build_steps"]["append_final"])
    lab_minor = re.search(r'K8S_VERSION = "(v\d+\.\d+)\.\d+"', (ROOT / "lab" / "config.py").read_text()).group(1)
    assert f"ARG KUBECTL_MINOR={lab_minor}" in steps           # the minor the integration tests run against
    assert "baseurl=https://pkgs.k8s.io/core:/stable:/$KUBECTL_MINOR/rpm/" in steps and "gpgcheck=1" in steps
    assert "dnf install" in steps and not re.search(r"curl|wget|dl\.k8s\.io|amd64", steps)


# -- AWX --------------------------------------------------------------------------------------------------------
# The keys AWX accepts in a custom credential type's input field (CredentialTypeInputField's schema).
AWX_FIELD_KEYS = {"id", "label", "type", "format", "choices", "help_text", "multiline", "secret", "ask_at_runtime"}


def credential_types() -> list[dict]:
    return yaml.safe_load((AWX / "credential_types.yml").read_text())["credential_types"]


@pytest.mark.parametrize("ctype", credential_types(), ids=lambda c: c["name"])
def test_awx_credential_type_is_valid_and_injects_known_variables(ctype):
    assert ctype["kind"] == "cloud" and ctype["natural_key"] == {"name": ctype["name"], "kind": "cloud",
                                                                 "type": "credential_type"}
    fields = ctype["inputs"]["fields"]
    ids = [field["id"] for field in fields]
    for field in fields:
        assert set(field) <= AWX_FIELD_KEYS and {"id", "label"} <= set(field), field
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", field["id"]) and field["type"] in ("string", "boolean")
    assert len(ids) == len(set(ids)) and set(ctype["inputs"]["required"]) <= set(ids)
    injectors = ctype["injectors"]
    files = {key.split(".", 1)[1] for key in injectors.get("file", {}) if key != "template"}
    for section in ("file", "env", "extra_vars"):
        for value in injectors.get(section, {}).values():
            for ref in re.findall(r"\{\{\s*([\w.]+)\s*\}\}", value):
                if ref.startswith("tower.filename."):
                    assert ref.split(".", 2)[2] in files, ref
                else:
                    assert ref in ids, f"{ctype['name']}: {ref} is not an input field"
    assert set(injectors.get("extra_vars", {})) <= argument_spec_options(), "injects a variable no role reads"
    secrets = {field["id"] for field in fields if field.get("secret")}
    assert secrets and not any(f"{{{{ {s} }}}}" in value for s in secrets for value in injectors.get("env", {}).values())


def test_awx_import_commands_say_the_files_are_yaml():
    """`awx import` reads JSON from stdin unless given -f yaml (awxkit's Import command): every command the docs
    give for the YAML files under docs/awx/ must say so."""
    commands = []
    for path in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *AWX.glob("*.yml")]:
        commands += [(path.name, line) for line in path.read_text(encoding="utf-8").splitlines()
                     if re.search(r"awx import[^<`]*<", line)]
    assert len(commands) >= 4
    for name, line in commands:
        assert re.search(r"awx import -f yaml < \S+", line), f"{name}: {line.strip()}"


def test_awx_job_template_runs_the_daily_inspection_at_nine():
    data = yaml.safe_load((AWX / "daily_inspection.yml").read_text())
    (template,) = data["job_templates"]
    assert (ROOT / template["playbook"]).is_file() and template["playbook"] == "playbooks/daily_inspection.yml"
    assert template["natural_key"] == {"organization": template["project"]["organization"], "name": template["name"],
                                       "type": "job_template"}
    known_types = {c["name"] for c in credential_types()} | {"Machine"}
    used = {c["credential_type"]["name"] for c in template["related"]["credentials"]}
    # the SMTP server is the alternative to the webhook, for jobs that mail the summary
    assert used == known_types - {"kubeops.runbook SMTP server"}
    (schedule,) = template["related"]["schedules"]
    assert re.search(r"DTSTART;TZID=[\w/]+:\d{8}T090000 RRULE:FREQ=DAILY;INTERVAL=1$", schedule["rrule"])
    assert schedule["natural_key"]["unified_job_template"] == template["natural_key"]
    extra_vars = yaml.safe_load(template["extra_vars"])
    assert set(extra_vars) <= argument_spec_options() | {"kubeops_audit_log"}
    assert not {"inspection_notify_url", "kubeops_kubeconfig"} & set(extra_vars)   # those come from credentials


def test_project_installs_this_collection_from_itself():
    requirements = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": ".", "type": "dir"}]}


def test_development_tools_install_nothing_into_the_users_collections():
    """ansible-lint, online, installs collections/requirements.yml and this checkout into ansible-compat's cache.
    Isolated (no ANSIBLE_COLLECTIONS_PATH and friends set) that cache is the project's git-ignored ./.ansible; with
    one set it is ~/.ansible/collections, a stale copy every later run on the machine would prefer to the checkout.
    So `make lint` runs ansible-lint exactly as by hand, with those variables unset; molecule does not install at
    all and finds the collection through .build."""
    lint = yaml.safe_load((ROOT / ".ansible-lint").read_text())
    assert lint["offline"] is False and ".ansible/" in lint["exclude_paths"]
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nlint:"):].split("\n\n")[0]
    assert "env -u ANSIBLE_COLLECTIONS_PATH" in recipe and "ansible-lint --profile production" in recipe, recipe
    assert ".ansible/" in (ROOT / ".gitignore").read_text().split()
    assert ".ansible" in yaml.safe_load((ROOT / "galaxy.yml").read_text())["build_ignore"]
    for scenario in (ROOT / "molecule").glob("*/molecule.yml"):
        config = yaml.safe_load(scenario.read_text())
        assert config["prerun"] is False, scenario
        assert config["provisioner"]["env"]["ANSIBLE_COLLECTIONS_PATH"].endswith("/.build")


# -- version_added ----------------------------------------------------------------------------------------------
# Every plugin and option of the 1.0.0 release (tests/unit/fixtures/packaging/released-1.0.0.json, read from the
# commit that released it). 1.0.0 was the first release: nothing was released as 0.x.
RELEASED = json.loads((ROOT / "tests" / "unit" / "fixtures" / "packaging" / "released-1.0.0.json").read_text())


def plugin_docs() -> dict[tuple[str, str], dict]:
    docs = {}
    for kind in ("modules", "filter", "doc_fragments"):
        for path in sorted((ROOT / "plugins" / kind).glob("[!_]*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            body = tree.body
            if kind == "doc_fragments":
                body = [node for node in tree.body if isinstance(node, ast.ClassDef)][0].body
            for node in body:
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
                    docs[(kind, path.stem)] = yaml.safe_load(node.value.value)
    return docs


def options_of(spec: dict | None, prefix: str = "") -> dict[str, dict]:
    found = {}
    for name, option in (spec or {}).items():
        found[prefix + name] = option
        found.update(options_of(option.get("suboptions"), f"{prefix}{name}."))
    return found


def newer_than_1_0_0(version: str) -> bool:
    return tuple(int(part) for part in str(version).split(".")) > (1, 0, 0)


@pytest.mark.parametrize("kind, name", sorted(plugin_docs()), ids=lambda value: value)
def test_version_added_is_honest(kind, name):
    """A plugin of the 1.0.0 release says 1.0.0, a newer one a later version; an option added since 1.0.0 says
    when (an option without version_added is as old as its plugin)."""
    doc = plugin_docs()[(kind, name)]
    released = RELEASED["plugins"].get(kind, {}).get(name)
    if kind != "doc_fragments":
        if released is None:
            assert newer_than_1_0_0(doc.get("version_added")), f"{name} is new since 1.0.0: version_added 1.1.0"
        else:
            assert str(doc.get("version_added")) == "1.0.0", f"{name} was released in 1.0.0"
    for option, spec in options_of(doc.get("options")).items():
        if released is not None and option not in released:
            assert newer_than_1_0_0(spec.get("version_added")), f"{kind}/{name}: option {option} is new since 1.0.0"


def test_changelog_cache_is_not_shipped():
    assert not shipped("changelogs/.plugin-cache.yaml") and shipped("changelogs/changelog.yaml")


# -- releases ---------------------------------------------------------------------------------------------------
def released_versions() -> list[str]:
    releases = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]
    return sorted(releases, key=lambda v: tuple(int(p) for p in v.split(".")))


def test_galaxy_version_is_the_newest_release_of_the_changelog():
    assert GALAXY["version"] == released_versions()[-1]


def next_minor(version: str) -> str:
    major, minor, _patch = (int(p) for p in version.split("."))
    return f"{major}.{minor + 1}.0"


@pytest.mark.skipif(not list((ROOT / "changelogs" / "fragments").glob("*.yml")), reason="no fragments to release")
def test_make_release_consumes_the_fragments_and_galaxy_follows(tmp_path):
    """The release process of CONTRIBUTING.md, on a copy of this checkout: `make release RELEASE=<next minor>`."""
    copy = tmp_path / "checkout"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout
    subprocess.run(["rsync", "-a", "--files-from=-", f"{ROOT}/", f"{copy}/"], input=files, text=True, check=True)
    os.symlink(ROOT / ".venv", copy / ".venv")
    fragments = sorted(p.name for p in (copy / "changelogs" / "fragments").glob("*.yml"))
    version = next_minor(GALAXY["version"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MAKE"))}
    done = subprocess.run([shutil.which("make") or "make", "-s", "-o", "venv", "release", f"RELEASE={version}"],
                          cwd=copy, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert yaml.safe_load((copy / "galaxy.yml").read_text())["version"] == version
    assert not list((copy / "changelogs" / "fragments").glob("*.yml")), "fragments left after the release"
    release = yaml.safe_load((copy / "changelogs" / "changelog.yaml").read_text())["releases"][version]
    assert sorted(release["fragments"]) == fragments
    assert f"v{version}\n" in (copy / "CHANGELOG.rst").read_text()
    assert f"kubeops-runbook-ee:{version}" in (copy / "docs" / "awx.md").read_text()
    again = subprocess.run(["make", "-s", "-o", "venv", "release", f"RELEASE={version}"], cwd=copy, capture_output=True,
                           text=True, env=env, timeout=120, check=False)
    assert again.returncode != 0 and f"release {version} must be newer than {version}" in again.stdout
