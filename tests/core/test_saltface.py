"""The project commands the runner and the execution module share: made once, each face's own examples and module."""
from __future__ import annotations

import inspect

from shaker_core.saltface import names_argument, project_commands


def recorded_commands(client: str):
    calls = []
    face = {"__name__": "salt.loaded.ext.runners.shaker"}
    commands = project_commands(lambda *args, **kwargs: calls.append((args, kwargs)) or {"ok": True}, client, face)
    return dict(zip(("install", "install_pinned", "update", "check", "status"), commands, strict=True)), calls


def test_each_command_carries_the_face_module_and_its_clients_examples():
    commands, _ = recorded_commands("salt-run")
    for name, function in commands.items():
        assert (function.__name__, function.__module__) == (name, "salt.loaded.ext.runners.shaker")
        assert function.__globals__["__name__"] == "salt.loaded.ext.runners.shaker"  # where Salt injects __jid_event__
        assert f"salt-run shaker.{name} " in function.__doc__
    assert "salt-call --local shaker.check " in recorded_commands("salt-call --local")[0]["check"].__doc__


def test_the_commands_pass_what_salt_gives_them_to_the_faces_run():
    commands, calls = recorded_commands("salt-run")
    commands["install"](root_dir="/srv/p", jobs=2)
    commands["check"]()
    commands["update"]("org/a-formula", names="org/b-formula,org/c-formula", simulate=True)
    assert calls == [
        (("install", "/srv/p", False, {"jobs": 2}), {}),
        (("check", None, True, {}), {}),
        (("update", None, True, {}), {"names": ["org/a-formula", "org/b-formula", "org/c-formula"]}),
    ]


def test_the_signatures_salt_reads_for_arguments_stay_as_documented():
    commands, _ = recorded_commands("salt-run")
    assert str(inspect.signature(commands["update"])) == "(*names, root_dir=None, simulate=False, **kwargs)"
    assert str(inspect.signature(commands["status"])) == "(root_dir=None, **kwargs)"


def test_names_are_read_from_a_list_or_a_comma_and_space_separated_string():
    assert names_argument("a, b  c,,d") == ["a", "b", "c", "d"]
    assert names_argument(["a", 3]) == ["a", "3"]
    assert names_argument(None) == []
