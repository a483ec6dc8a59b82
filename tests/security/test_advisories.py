"""The vulnerability audit CI runs (`.ci/run` §8): pip-audit's report, completed from PyPI's advisories
for a project's latest release where pip-audit could not ask; never "clean" for what was not audited."""

from __future__ import annotations

import io
import json
import urllib.error

from referral_engine.security import advisories

SKIPPED = "Dependency not found on PyPI and could not be audited: {name} ({version})"


def skipped(name: str, version: str) -> dict:
    return {"name": name, "skip_reason": SKIPPED.format(name=name, version=version)}


def project(latest: str, *vulns: dict) -> dict:
    return {"info": {"version": latest}, "vulnerabilities": list(vulns)}


def run(dependencies: list[dict], projects: dict[str, dict]) -> tuple[int, str]:
    def fetch(name: str) -> dict:
        if name not in projects:
            raise urllib.error.URLError("Name or service not known")
        return projects[name]

    out = io.StringIO()
    status = advisories.report(advisories.audit(dependencies, fetch=fetch), out=out)
    return status, out.getvalue()


def test_a_known_vulnerability_of_a_pin_that_is_the_latest_release_fails():
    status, text = run(
        [skipped("pycrypto", "2.6.1"), skipped("qrcode", "8.2")],
        {
            "pycrypto": project("2.6.1", {"id": "PYSEC-2018-97", "fixed_in": [], "withdrawn": None}),
            "qrcode": project("8.2"),
        },
    )
    assert status == 1
    assert "VULNERABLE pycrypto 2.6.1: PYSEC-2018-97" in text
    assert "audited 2" in text and "NOT audited 0" in text


def test_a_pin_behind_the_latest_release_is_reported_not_audited_never_clean():
    status, text = run([skipped("Django", "5.2.19")], {"django": project("6.1.3")})
    assert status == 0  # nothing known, but said loudly
    assert "WARNING: 1 of 1 packages were NOT audited" in text
    assert "django 5.2.19".lower() in text.lower() and "not the latest release (6.1.3)" in text


def test_an_unreachable_or_dataless_project_json_is_not_audited():
    status, text = run([skipped("a", "1.0"), skipped("b", "1.0")], {"b": {"info": {"version": "1.0"}}})
    assert status == 0
    assert "a 1.0: project JSON unreachable" in text
    assert "b 1.0: the project JSON carries no vulnerability data" in text


def test_withdrawn_advisories_do_not_count():
    status, _text = run([skipped("x", "1.0")], {"x": project("1.0", {"id": "GHSA-x", "withdrawn": "2026-01-01"})})
    assert status == 0


def test_pip_audits_own_answer_is_kept():
    audited = {"name": "django", "version": "5.2.19", "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.20"]}]}
    status, text = run([audited], {})
    assert status == 1
    assert "VULNERABLE django 5.2.19: PYSEC-1 (fixed in 5.2.20)" in text
    assert "pip-audit 1" in text


def test_main_refuses_an_empty_report(tmp_path):
    path = tmp_path / "pip-audit.json"
    path.write_text(json.dumps({"dependencies": []}))
    assert advisories.main([str(path)]) == 1
