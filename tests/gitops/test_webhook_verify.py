"""Push webhooks and notifications without daemons: shaker_core.webhook and shaker_core.notify.

The webhook engine fires ``{"headers": ..., "body": <bytes>}`` with header names
rewritten (``X-Github-Event``); salt-api fires ``{"body": <text>, "post": ..., "headers": ...}``.
Every rejection carries one exact sentence, and a rejection is decided before the
payload is read. Notifications go to a real HTTP server on 127.0.0.1.
"""
from __future__ import annotations

import json
import socket
import time

import pytest
from gitopskit import github_payload, gitlab_payload, hmac_hex

from shaker_core import notify
from shaker_core.gitops import on_push
from shaker_core.settings import Settings
from shaker_core.webhook import Push, WebhookRejected, WebhookSettings, parse, raw_parts, repository_key, verify

SECRET = "s3cret-webhook-key"
REPO_URL = "https://git.example.com/ops/project.git"
SETTINGS = WebhookSettings.from_mapping({"secret": SECRET})

BAD_GITHUB = "The x-hub-signature-256 signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret."
BAD_GITEA = "The x-gitea-signature signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret."
BAD_GENERIC = "The x-shaker-signature signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret."
BAD_GITLAB = "The X-Gitlab-Token does not match; check the secret token on GitLab and in shaker:webhook."
NO_SIGNATURE = "The request has no signature (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or the generic header); it was ignored."
NOT_JSON = "The signed request body is not JSON; configure the webhook to send application/json."
NO_SECRET = "No webhook secret is configured (shaker:webhook:secret in the master config); every push is refused until one is set."


def engine_event(headers: dict[str, str], body: bytes) -> dict:
    """What the webhook engine fires: header names as tornado rewrites them, the body as bytes."""
    rewritten = {"-".join(part.capitalize() for part in name.split("-")): value for name, value in headers.items()}
    return {"headers": rewritten, "body": body}


def rejected(event: dict, settings: WebhookSettings = SETTINGS) -> str:
    headers, body = raw_parts(event)
    with pytest.raises(WebhookRejected) as caught:
        parse(verify(headers, body, settings), headers, body)
    return caught.value.message


def accepted(event: dict, settings: WebhookSettings = SETTINGS) -> Push:
    headers, body = raw_parts(event)
    return parse(verify(headers, body, settings), headers, body)


# -- GitHub --


def test_github_signature_accepted_from_engine_bytes_with_rewritten_header_names():
    body = github_payload(REPO_URL, after="a" * 40)
    event = engine_event({"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body)}, body)
    assert "X-Github-Event" in event["headers"] and "X-GitHub-Event" not in event["headers"]
    push = accepted(event)
    assert push.provider == "github"
    assert push.event == "push" and push.is_push
    assert push.ref == "refs/heads/main" and push.branch == "main" and push.tag is None
    assert push.delivery == "d-1"
    assert push.after == "a" * 40
    assert REPO_URL in push.repository_urls


@pytest.mark.parametrize("case", ["lower", "upper", "mixed"])
def test_header_names_in_any_case(case):
    body = github_payload(REPO_URL)
    names = {"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body), "X-GitHub-Event": "push", "X-GitHub-Delivery": "odd-case"}
    convert = {"lower": str.lower, "upper": str.upper, "mixed": lambda n: n.swapcase()}[case]
    push = accepted({"headers": {convert(k): v for k, v in names.items()}, "body": body})
    assert (push.provider, push.event, push.delivery) == ("github", "push", "odd-case")


def test_github_without_any_signature_is_rejected():
    body = github_payload(REPO_URL)
    assert rejected(engine_event({"X-GitHub-Event": "push"}, body)) == NO_SIGNATURE


def test_github_wrong_signature_is_rejected():
    body = github_payload(REPO_URL)
    assert rejected(engine_event({"X-Hub-Signature-256": "sha256=" + "0" * 64}, body)) == BAD_GITHUB


def test_github_signature_of_another_body_is_rejected():
    body = github_payload(REPO_URL, after="a" * 40)
    other = github_payload(REPO_URL, after="b" * 40)
    assert rejected(engine_event({"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, other)}, body)) == BAD_GITHUB


def test_github_signature_with_another_secret_is_rejected():
    body = github_payload(REPO_URL)
    assert rejected(engine_event({"X-Hub-Signature-256": "sha256=" + hmac_hex("not-the-secret", body)}, body)) == BAD_GITHUB


def test_github_signature_without_its_prefix_is_rejected():
    body = github_payload(REPO_URL)
    assert rejected(engine_event({"X-Hub-Signature-256": hmac_hex(SECRET, body)}, body)) == BAD_GITHUB


def test_body_over_the_limit_is_rejected_before_the_signature_is_checked():
    settings = WebhookSettings.from_mapping({"secret": SECRET, "max_body_bytes": 1000})
    body = json.dumps({"ref": "refs/heads/main", "padding": "x" * 2000}).encode()
    good = {"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body)}
    assert rejected(engine_event(good, body), settings) == (
        f"The request body is {len(body)} bytes, over the limit of 1000 (shaker:webhook:max_body_bytes); it was ignored."
    )
    # The default limit is 1 MiB: a signed 2 MiB body is refused too.
    huge = b'{"ref": "refs/heads/main", "x": "' + b"y" * (2 * 1024 * 1024) + b'"}'
    assert rejected(engine_event({"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, huge)}, huge)) == (
        f"The request body is {len(huge)} bytes, over the limit of {1024 * 1024} (shaker:webhook:max_body_bytes); it was ignored."
    )


def test_signed_body_that_is_not_json_is_rejected():
    body = b"ref=refs/heads/main&payload=form-encoded"
    assert rejected(engine_event({"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body)}, body)) == NOT_JSON
    binary = b"\xff\xfe\x00junk"
    assert rejected(engine_event({"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, binary)}, binary)) == NOT_JSON
    array = b'["refs/heads/main"]'
    assert rejected(engine_event({"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, array)}, array)) == "The signed request body is not a JSON object."


def test_unsigned_body_that_is_not_json_says_unsigned_not_unparsable():
    assert rejected(engine_event({"Content-Type": "text/plain"}, b"not json at all")) == NO_SIGNATURE


def test_no_secret_configured_refuses_everything():
    for data in (None, {}, {"secret": ""}, "a-string"):
        with pytest.raises(WebhookRejected) as caught:
            WebhookSettings.from_mapping(data)
        assert caught.value.message == NO_SECRET


def test_event_without_a_raw_body_is_rejected():
    with pytest.raises(WebhookRejected) as caught:
        raw_parts({"headers": {}, "body": 12345})
    assert caught.value.message == "The event carries no raw body; pass the webhook event data unchanged to shaker.webhook."


# -- salt-api shapes --


def test_salt_api_text_body_with_non_ascii_is_verified_over_its_utf8_bytes():
    body = github_payload(REPO_URL, message="déploiement – ünïcode")
    assert body != body.decode().encode("ascii", "replace")  # there is non-ASCII to get wrong
    text = body.decode("utf-8")
    event = {"body": text, "post": json.loads(text), "headers": {"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body), "X-Github-Event": "push"}}
    push = accepted(event)
    assert push.provider == "github" and push.branch == "main"


def test_salt_api_raw_body_beside_a_parsed_body():
    body = github_payload(REPO_URL)
    event = {"raw_body": body.decode(), "body": json.loads(body), "headers": {"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body)}}
    assert accepted(event).provider == "github"
    # The parsed copy is never what is verified: re-serialised JSON does not match the signature.
    reserialised = {"body": json.dumps(json.loads(body), indent=1), "headers": event["headers"]}
    assert rejected(reserialised) == BAD_GITHUB


# -- Gitea, GitLab, generic --


def test_gitea_signature():
    body = github_payload(REPO_URL)
    event = engine_event({"X-Gitea-Event": "push", "X-Gitea-Delivery": "g-1", "X-Gitea-Signature": hmac_hex(SECRET, body)}, body)
    push = accepted(event)
    assert (push.provider, push.event, push.delivery) == ("gitea", "push", "g-1")
    assert rejected(engine_event({"X-Gitea-Signature": hmac_hex("wrong", body)}, body)) == BAD_GITEA
    assert rejected(engine_event({"X-Gitea-Signature": "sha256=" + hmac_hex(SECRET, body)}, body)) == BAD_GITEA


def test_gitlab_token_is_the_secret_unless_a_gitlab_token_is_set():
    body = gitlab_payload(REPO_URL, after="c" * 40)
    event = engine_event({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "gl-1", "X-Gitlab-Token": SECRET}, body)
    push = accepted(event)
    assert (push.provider, push.event, push.delivery, push.after) == ("gitlab", "push", "gl-1", "c" * 40)
    assert REPO_URL in push.repository_urls
    assert rejected(engine_event({"X-Gitlab-Token": SECRET + "x"}, body)) == BAD_GITLAB
    assert rejected(engine_event({"X-Gitlab-Token": ""}, body)) == BAD_GITLAB
    own = WebhookSettings.from_mapping({"secret": SECRET, "gitlab_token": "gitlab-only"})
    assert accepted(engine_event({"X-Gitlab-Token": "gitlab-only"}, body), own).provider == "gitlab"
    assert rejected(engine_event({"X-Gitlab-Token": SECRET}, body), own) == BAD_GITLAB


def test_gitlab_tag_push_hook():
    body = gitlab_payload(REPO_URL, ref="refs/tags/v2.0.0")
    push = accepted(engine_event({"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": SECRET}, body))
    assert push.event == "tag_push" and push.is_push and push.tag == "v2.0.0" and push.branch is None


def test_generic_signature_default_and_custom_header():
    body = github_payload(REPO_URL)
    push = accepted(engine_event({"X-Shaker-Signature": "sha256=" + hmac_hex(SECRET, body), "X-Request-Id": "r-9"}, body))
    assert (push.provider, push.event, push.delivery) == ("generic", "push", "r-9")
    assert rejected(engine_event({"X-Shaker-Signature": "sha256=" + hmac_hex("other", body)}, body)) == BAD_GENERIC
    custom = WebhookSettings.from_mapping({"secret": SECRET, "header": "X-Deploy-Sig"})
    assert accepted(engine_event({"X-Deploy-Sig": "sha256=" + hmac_hex(SECRET, body)}, body), custom).provider == "generic"
    # With a custom header configured, the default generic header is no signature at all.
    assert rejected(engine_event({"X-Shaker-Signature": "sha256=" + hmac_hex(SECRET, body)}, body), custom) == NO_SIGNATURE


def test_a_wrong_github_signature_is_not_rescued_by_a_right_gitea_one():
    body = github_payload(REPO_URL)
    event = engine_event({"X-Hub-Signature-256": "sha256=" + "0" * 64, "X-Gitea-Signature": hmac_hex(SECRET, body)}, body)
    assert rejected(event) == BAD_GITHUB


# -- what a push names --


@pytest.mark.parametrize(
    "url",
    [
        "git@git.example.com:ops/project.git",
        "https://git.example.com/ops/project",
        "https://git.example.com/ops/project.git",
        "ssh://git@git.example.com/ops/project.git",
        "ssh://git@git.example.com:22/ops/project.git",
        "https://deploy:token@GIT.example.com/ops/project/",
        "git.example.com:ops/project",
    ],
)
def test_repository_key_equivalences(url):
    assert repository_key(url) == "git.example.com/ops/project"


@pytest.mark.parametrize(
    "url",
    ["git@git.example.com:ops/project-formula.git", "https://other.example.com/ops/project", "https://git.example.com/ops2/project", "https://git.example.com/project"],
)
def test_repository_key_differences(url):
    assert repository_key(url) != repository_key("git@git.example.com:ops/project.git")


def test_file_urls_compare_by_path():
    assert repository_key("file:///srv/git/ops/project.git") == repository_key("file:///srv/git/ops/project") == "/srv/git/ops/project"


@pytest.mark.parametrize(
    "headers, provider_event",
    [
        ({"X-Github-Event": "ping"}, "ping"),
        ({"X-Github-Event": "pull_request"}, "pull_request"),
        ({"X-Gitea-Event": "create"}, "create"),
        ({"X-Gitlab-Event": "Merge Request Hook"}, "merge request hook"),
    ],
)
def test_non_push_events_are_ignored(tmp_path, headers, provider_event):
    body = github_payload(REPO_URL)
    event = {"headers": {**headers, "X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body)}, "body": body}
    push = accepted(event)
    assert push.event == provider_event and not push.is_push
    settings = Settings.from_mapping({"root_dir": str(tmp_path), "project": {"source": REPO_URL}})
    report = on_push(settings, {"secret": SECRET}, event)
    assert report == {
        "command": "webhook",
        "success": True,
        "ignored": True,
        "comment": f"Ignored: '{provider_event}' is not a push.",
        "push": {"provider": "github", "event": provider_event, "ref": "refs/heads/main", "delivery": None},
    }
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_push_to_another_branch_of_the_project_is_ignored(tmp_path):
    body = github_payload("git@git.example.com:ops/project.git", ref="refs/heads/feature")
    event = {"headers": {"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body), "X-Github-Event": "push"}, "body": body}
    settings = Settings.from_mapping({"root_dir": str(tmp_path), "project": {"source": REPO_URL}})
    report = on_push(settings, {"secret": SECRET}, event)
    assert report["ignored"] is True and report["success"] is True
    assert report["comment"] == "Ignored: the push is to refs/heads/feature, and the project branch is main."
    assert list(tmp_path.iterdir()) == []


def test_on_push_rejects_before_reading_anything(tmp_path):
    body = b"definitely not json"
    with pytest.raises(WebhookRejected) as caught:
        on_push(Settings.from_mapping({"root_dir": str(tmp_path)}), {"secret": SECRET}, {"headers": {"X-Hub-Signature-256": "sha256=00"}, "body": body})
    assert caught.value.message == BAD_GITHUB
    assert SECRET not in caught.value.message


# -- notifications --

TOKEN = "ghp_NOTIFY_TOKEN_1234567890"
COMMIT = "c0ffee" + "0" * 34


def published_report(**extra):
    return {
        "command": "install_pinned",
        "success": True,
        "published": True,
        "release": "0123456789abcdef",
        "previous_release": "fedcba9876543210",
        "served_changes": {"example_org/firewall-formula": {"old": {"ref": "v1.5.0", "commit": "a" * 40}, "new": {"ref": "v1.0.0", "commit": "b" * 40}}},
        "root_dir": "/srv/salt/project",
        "trigger": "webhook:d-1",
        "formulas": {"not": "public"},
        **extra,
    }


def failed_report(message="example_org/firewall-formula has no commit 0123; the lock names a commit the source no longer has."):
    return {"command": "install_pinned", "success": False, "error": "git", "message": message, "retcode": 1}


def test_json_and_slack_notifications(recorder, tmp_path):
    settings = {"urls": [{"url": recorder.url + "/json", "format": "json"}, {"url": recorder.url + "/slack", "format": "slack"}, recorder.url + "/plain"]}
    lines = notify.notify(settings, tmp_path, published_report(), None)
    text = "salt-shaker published release 0123456789abcdef: example_org/firewall-formula v1.5.0 -> v1.0.0"
    assert lines == [f"notified {recorder.url}/json", f"notified {recorder.url}/slack", f"notified {recorder.url}/plain"]
    by_path = {r.path: r for r in recorder.snapshot()}
    assert set(by_path) == {"/json", "/slack", "/plain"}
    assert by_path["/slack"].json() == {"text": text}
    assert by_path["/json"].json() == {
        "event": "shaker/sync",
        "text": text,
        "report": {
            "command": "install_pinned",
            "success": True,
            "release": "0123456789abcdef",
            "previous_release": "fedcba9876543210",
            "served_changes": published_report()["served_changes"],
            "root_dir": "/srv/salt/project",
            "trigger": "webhook:d-1",
        },
    }
    assert by_path["/plain"].json()["event"] == "shaker/sync"  # a plain URL string is the JSON format
    assert all(r.method == "POST" and r.headers["content-type"] == "application/json" for r in by_path.values())


def test_nothing_is_sent_for_a_sync_that_changed_nothing(recorder, tmp_path):
    settings = {"urls": [recorder.url + "/json"], "commit_status": {"provider": "github", "api_url": recorder.url, "repository": "ops/project", "token": TOKEN}}
    assert notify.notify(settings, tmp_path, published_report(published=False), COMMIT) == []
    assert notify.notify({}, tmp_path, failed_report(), COMMIT) == []
    time.sleep(0.05)
    assert recorder.snapshot() == []


@pytest.mark.parametrize(
    "provider, path, auth_header, auth_value, ok_state, fail_state",
    [
        ("github", f"/repos/ops/project/statuses/{COMMIT}", "authorization", f"Bearer {TOKEN}", "success", "failure"),
        ("gitea", f"/repos/ops/project/statuses/{COMMIT}", "authorization", f"token {TOKEN}", "success", "failure"),
        ("gitlab", f"/projects/ops%2Fproject/statuses/{COMMIT}", "private-token", TOKEN, "success", "failed"),
    ],
)
def test_commit_status_shapes_carry_the_token_only_in_a_header(recorder, tmp_path, provider, path, auth_header, auth_value, ok_state, fail_state):
    api = recorder.url + "/api/v1"
    settings = {"commit_status": {"provider": provider, "api_url": api + "/", "repository": "ops/project", "token": TOKEN}}
    ok_lines = notify.notify(settings, tmp_path, published_report(), COMMIT)
    fail_lines = notify.notify(settings, tmp_path, failed_report(), COMMIT)
    assert ok_lines == [f"notified {api}{path}"] and fail_lines == [f"notified {api}{path}"]
    ok, failed = recorder.wait_for(2)
    for request in (ok, failed):
        assert request.method == "POST" and request.path == f"/api/v1{path}"
        assert request.headers[auth_header] == auth_value
        assert TOKEN not in request.body.decode() and TOKEN not in request.path
        assert [name for name, value in request.headers.items() if TOKEN in value] == [auth_header]
    name_key = "name" if provider == "gitlab" else "context"
    assert ok.json() == {"state": ok_state, name_key: "salt-shaker", "description": "salt-shaker published release 0123456789abcdef: example_org/firewall-formula v1.5.0 -> v1.0.0"}
    assert failed.json()["state"] == fail_state
    assert failed.json()["description"] == ("salt-shaker install_pinned failed: " + failed_report()["message"])[:139]
    assert all(TOKEN not in line for line in ok_lines + fail_lines)


def test_identical_failures_are_sent_once_within_repeat_after(recorder, tmp_path):
    settings = {"urls": [recorder.url + "/alerts"], "repeat_after": 1.0}
    assert notify.notify(settings, tmp_path, failed_report(), None) == [f"notified {recorder.url}/alerts"]
    assert notify.notify(settings, tmp_path, failed_report(), None) == ["notifications: the same failure was already sent recently"]
    assert notify.notify(settings, tmp_path, failed_report("another failure"), None) == [f"notified {recorder.url}/alerts"]
    assert len(recorder.snapshot()) == 2
    # Successes are never deduplicated.
    notify.notify(settings, tmp_path, published_report(), None)
    notify.notify(settings, tmp_path, published_report(), None)
    assert len(recorder.snapshot()) == 4
    time.sleep(1.1)
    assert notify.notify(settings, tmp_path, failed_report(), None) == [f"notified {recorder.url}/alerts"]
    texts = [r.json()["text"] for r in recorder.snapshot()]
    assert texts.count("salt-shaker install_pinned failed: " + failed_report()["message"]) == 2
    assert (tmp_path / ".notify-state.json").exists()


def test_a_server_answering_500_never_raises(recorder, tmp_path):
    recorder.status = 500
    settings = {"urls": [recorder.url + "/hook"], "commit_status": {"provider": "github", "api_url": recorder.url, "repository": "ops/project", "token": TOKEN}}
    lines = notify.notify(settings, tmp_path, published_report(), COMMIT)
    assert lines == [f"notification to {recorder.url}/hook answered HTTP 500", f"notification to {recorder.url}/repos/ops/project/statuses/{COMMIT} answered HTTP 500"]
    assert len(recorder.snapshot()) == 2


def test_a_server_not_listening_never_raises(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = {"urls": [url + "/hook"], "commit_status": {"provider": "gitea", "api_url": url, "repository": "ops/project", "token": TOKEN}}
    started = time.monotonic()
    lines = notify.notify(settings, tmp_path, failed_report(), COMMIT)
    assert lines == [f"notification to {url}/hook failed (ConnectionError)", f"notification to {url}/repos/ops/project/statuses/{COMMIT} failed (ConnectionError)"]
    assert time.monotonic() - started < 5


def test_credentials_in_a_notification_url_are_not_returned(recorder, tmp_path):
    url = recorder.url.replace("http://", "http://hookuser:hookpass@") + "/private"
    lines = notify.notify({"urls": [url]}, tmp_path, published_report(), None)
    assert lines == [f"notified {recorder.url.replace('http://', 'http://hookuser:***@')}/private"]
    (request,) = recorder.wait_for(1)
    assert "hookpass" not in request.body.decode()
