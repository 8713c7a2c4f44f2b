"""Secrets never leave the settings: not in a log line, a report, a file, a cache directory name or an error.

One run with a known git token (``credentials:`` for a password-protected smart-HTTP
server) and a known webhook secret goes through: install (command line and API), a
failure with a wrong password, webhooks with good and bad signatures (GitHub HMAC and
a GitLab token, through ``gitops.on_push``), a webhook-triggered update, status and
history. Every log record (DEBUG and up, in this process; ``--debug`` stderr of the
command lines), every report, every error message, every file under the project and
the cache and every cache path is then searched for either secret.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path

import pytest
import yaml
from hardkit import APP, make_project, release_app
from helpers.forge import Forge
from helpers.http_git import GitHttpServer
from helpers.run import shaker

from shaker_core import api, gitops
from shaker_core.errors import ShakerError
from shaker_core.settings import Settings

USER = "deploy"
TOKEN = "glpat-Hardening-Token-7d41c9e2"
WRONG = "glpat-Wrong-Token-0b3a55aa"
SECRET = "whsec-Hardening-Secret-5e19f0"
SECRETS = (TOKEN, WRONG, SECRET)


def found_in(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_no_secret_is_ever_written_logged_returned_or_shown(small_forge: Forge, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: dict[str, str] = {}  # what every scenario printed, returned or raised
    with GitHttpServer(small_forge.root, USER, TOKEN) as server:
        url = server.url
        template = f"{url}{{org}}/{{name}}.git"
        credentials = {server.url: {"username": USER, "token": TOKEN}}
        project = make_project(tmp_path / "project", template, cache_dir=tmp_path / "cache", credentials=credentials)
        mapping = {"root_dir": str(project), "source_template": template, "cache_dir": str(tmp_path / "cache"), "credentials": credentials,
                   "auto_update": True}
        settings = Settings.from_mapping(mapping)
        webhook = {"secret": SECRET, "gitlab_token": SECRET}

        # install from the command line, with --debug logging on stderr
        result = shaker("install", "--debug", "--json", cwd=project)
        assert result.code == 0, str(result)
        assert any(ok and method == "POST" for method, _, ok in server.requests)  # fetched with the token
        outputs["cli install"] = result.out + result.err

        # the same through the API, with a new tag upstream
        release_app(small_forge, "v1.1.0")
        outputs["api install"] = json.dumps(api.install(settings))
        assert json.loads(outputs["api install"])["formulas"][APP]["ref"] == "v1.1.0"

        # a wrong password: on the command line and through the API
        wrong_credentials = {server.url: {"username": USER, "password": WRONG}}
        wrong = make_project(tmp_path / "wrong", template, cache_dir=tmp_path / "wrong-cache", credentials=wrong_credentials)
        failed = shaker("install", "--debug", cwd=wrong)
        assert failed.code == 5, str(failed)
        outputs["cli wrong password"] = failed.out + failed.err
        with pytest.raises(ShakerError) as refused:
            api.install(Settings.from_mapping({**mapping, "root_dir": str(wrong), "cache_dir": str(tmp_path / "wrong-cache"), "credentials": wrong_credentials}))
        assert refused.value.exit_code == 5 and "credentials" in refused.value.message
        outputs["api wrong password"] = refused.value.message + json.dumps(refused.value.as_dict())

        # webhooks: a good GitHub signature and GitLab token (the tracked formula got a new tag: update), bad ones
        release_app(small_forge, "v1.2.0")
        body = json.dumps({"ref": "refs/tags/v1.2.0", "repository": {"clone_url": f"{server.url}org/app-formula.git"}}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        good = gitops.on_push(settings, webhook, {"headers": {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": "d-1"}, "body": body})
        assert good["success"] is True and good["formulas"][APP]["ref"] == "v1.2.0", good
        outputs["webhook github"] = json.dumps(good)
        gitlab = gitops.on_push(settings, webhook, {"headers": {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Tag Push Hook"}, "body": body})
        assert gitlab["success"] is True and gitlab["push"]["provider"] == "gitlab", gitlab
        outputs["webhook gitlab"] = json.dumps(gitlab)
        for name, headers in {
            "bad signature": {"X-Hub-Signature-256": "sha256=" + "0" * 64},
            "bad gitlab token": {"X-Gitlab-Token": SECRET[:-1]},
            "no signature": {},
        }.items():
            with pytest.raises(ShakerError) as rejected:
                gitops.on_push(settings, webhook, {"headers": headers, "body": body})
            outputs[f"webhook {name}"] = rejected.value.message + json.dumps(rejected.value.as_dict())

        # status and history, from the API and the command line
        outputs["api status"] = json.dumps(gitops.status(settings))
        outputs["api history"] = json.dumps(gitops.history(settings))
        status = shaker("status", "--json", "--debug", cwd=project)
        assert status.code == 0 and json.loads(status.out)["in_sync"] is True, str(status)
        outputs["cli status"] = status.out + status.err

    assert len(outputs) == 12
    for name, text in outputs.items():
        assert found_in(text) == [], name
    assert "Authentication" not in outputs["api install"]
    records = [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG was captured
    assert [line for line in records if found_in(line)] == []
    assert found_in(caplog.text) == []
    written = [p for root in (project, wrong, tmp_path / "cache", tmp_path / "wrong-cache") for p in root.rglob("*")]
    assert len(written) > 50
    assert [p for p in written if found_in(str(p))] == []  # no path: mirror and store names included
    assert [p for p in written if p.is_file() and not p.is_symlink() and p.name != "shaker.yml" and found_in(p.read_bytes().decode("latin-1"))] == []
    lock = (project / "formula-requirements.txt").read_text()
    assert "org/app-formula==v1.2.0 " in lock and "http" not in lock and "@" not in lock  # default sources are not even named
    assert yaml.safe_load((project / "shaker.yml").read_text())["credentials"][url]["token"] == TOKEN  # it was there all along
