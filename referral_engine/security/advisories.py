"""Known vulnerabilities of the pinned runtime dependencies: pip-audit's report, completed where
pip-audit could not ask (CI's `.ci/run` §8; docs/reliability.md "pip-audit").

pip-audit asks PyPI's per-release JSON (`/pypi/<name>/<version>/json`) for each resolved requirement,
or OSV's API with `-s osv`. On this workplace's PyPI mirror the per-release JSON is a 404 (pip-audit
then reports every package "not found on PyPI and could not be audited" and exits 0) and OSV's host
does not resolve. The mirror does serve the project JSON (`/pypi/<name>/json`), whose
`vulnerabilities` are PyPI's advisories (the Python Packaging Advisory Database, OSV) **for the
project's latest release**: a pin that *is* the latest release can be audited from it, a pin that is
not cannot (an advisory fixed before the latest release is not listed there).

So: a package pip-audit audited keeps pip-audit's answer; a skipped one is looked up in the project
JSON when its pin is the latest release; anything else is reported, loudly, as not audited — never
as clean. Exit status 1 when any known vulnerability is found, 0 otherwise (also when some packages
could not be audited: the summary says which, and why).

    python -m referral_engine.security.advisories artifacts/pip-audit.json
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

PYPI_JSON_URL = os.environ.get("PYPI_JSON_URL", "https://pypi.org/pypi")

Fetch = Callable[[str], dict[str, Any]]


@dataclass
class Finding:
    name: str
    version: str
    source: str  # "pip-audit", "pypi-latest" or "" (not audited)
    vulns: list[tuple[str, list[str]]] = field(default_factory=list)  # (id, fixed in)
    reason: str = ""  # why it was not audited

    @property
    def audited(self) -> bool:
        return bool(self.source)


def fetch_project_json(name: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{PYPI_JSON_URL}/{name}/json", timeout=30) as response:  # noqa: S310 - fixed https URL
        return json.load(response)


def _version(dep: dict[str, Any]) -> str:
    """pip-audit gives a skipped dependency no `version`, only "...: django (5.2.19)" in its reason."""
    if dep.get("version"):
        return dep["version"]
    found = re.search(r"\(([^()\s]+)\)\s*$", dep.get("skip_reason") or "")
    return found.group(1) if found else ""


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def audit(dependencies: Iterable[dict[str, Any]], fetch: Fetch = fetch_project_json) -> list[Finding]:
    """One finding per dependency of pip-audit's JSON report (`dependencies` list)."""
    findings = []
    for dep in dependencies:
        name, version = dep["name"], _version(dep)
        if not dep.get("skip_reason"):
            vulns = [(v["id"], list(v.get("fix_versions") or [])) for v in dep.get("vulns", [])]
            findings.append(Finding(name, version, "pip-audit", vulns))
            continue
        try:
            project = fetch(_normalise(name))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            findings.append(Finding(name, version, "", reason=f"project JSON unreachable: {exc}"))
            continue
        latest = (project.get("info") or {}).get("version", "")
        if not version:
            findings.append(Finding(name, version, "", reason=f"pip-audit gave no version ({dep.get('skip_reason')})"))
        elif "vulnerabilities" not in project:
            findings.append(Finding(name, version, "", reason="the project JSON carries no vulnerability data"))
        elif latest != version:
            reason = f"pinned {version} is not the latest release ({latest}); advisories are served for the latest only"
            findings.append(Finding(name, version, "", reason=reason))
        else:
            vulns = [
                (v.get("id", "?"), list(v.get("fixed_in") or []))
                for v in project["vulnerabilities"]
                if not v.get("withdrawn")
            ]
            findings.append(Finding(name, version, "pypi-latest", vulns))
    return findings


def report(findings: list[Finding], out: Any = sys.stdout) -> int:
    vulnerable = [f for f in findings if f.vulns]
    not_audited = [f for f in findings if not f.audited]
    by_pip_audit = sum(f.source == "pip-audit" for f in findings)
    by_latest = sum(f.source == "pypi-latest" for f in findings)
    print(
        f"vulnerability audit: {len(findings)} packages; audited {by_pip_audit + by_latest} "
        f"(pip-audit {by_pip_audit}, PyPI advisories of the latest release {by_latest}); "
        f"NOT audited {len(not_audited)}; known vulnerabilities {sum(len(f.vulns) for f in vulnerable)}",
        file=out,
    )
    for f in vulnerable:
        for vid, fixes in f.vulns:
            print(f"  VULNERABLE {f.name} {f.version}: {vid} (fixed in {', '.join(fixes) or '-'})", file=out)
    if not_audited:
        bar = "!" * 100
        print(bar, file=out)
        print(
            f"!! WARNING: {len(not_audited)} of {len(findings)} packages were NOT audited for known vulnerabilities:",
            file=out,
        )
        for f in not_audited:
            print(f"!!   {f.name} {f.version}: {f.reason}", file=out)
        print("!! Run `pip-audit -r requirements.txt` where PyPI or OSV is reachable (docs/reliability.md).", file=out)
        print(bar, file=out)
    return 1 if vulnerable else 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m referral_engine.security.advisories PIP_AUDIT_JSON\n")
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        data = json.load(fh)
    dependencies = data.get("dependencies", [])
    if not dependencies:
        sys.stderr.write("vulnerability audit: pip-audit listed no dependencies: nothing was audited\n")
        return 1
    return report(audit(dependencies))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
