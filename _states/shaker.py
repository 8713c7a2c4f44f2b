"""The ``shaker.pinned`` state: declare a project's formula dependencies in a highstate.

.. code-block:: yaml

    project_formulas:
      shaker.pinned:
        - name: /srv/salt/project          # root_dir with metadata.yml and formula-requirements.txt
        - dependencies:                    # optional: declared here instead of metadata.yml
          - my_org/nginx-formula>=v2.0.0
        - remote_check: False
        - update: False                    # True: move to the newest allowed versions

Settings come from the ``shaker:`` mapping of the minion config, then pillar,
then the state's arguments; later wins.
"""
import salt.version

from shaker_core.saltface import load as _load

__virtualname__ = "shaker"
adapter, __virtual__ = _load(__virtualname__)


def pinned(name, dependencies=None, remote_check=False, update=False, saltenv=None, **kwargs):
    """Make ``<name>/vendor/_root`` serve the formulas the declaration pins.

    Resolves when there is no lock or the lock no longer satisfies the
    declaration, otherwise publishes the lock. With ``test=True`` nothing is
    changed and the predicted changes are returned. ``saltenv`` names the
    environment to publish (``vendor/_root/<saltenv>``) when metadata.yml declares
    ``environments:``.
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    # saltenv is one of Salt's runtime keywords: Salt hands it to a state function only
    # when the function names it in its signature, never through **kwargs.
    arguments = {**kwargs, "root_dir": name, "remote_check": remote_check, "simulate": test, "saltenv": saltenv}
    try:
        report = adapter.call("sync", __opts__.get("shaker"), __pillar__.get("shaker"), arguments, trigger="state",
                              salt_version=salt.version.__version__, dependencies=dependencies, update=update)
    except adapter.ShakerError as exc:
        ret["comment"] = exc.message
        return ret
    changes = adapter.state_changes(report)
    ret["comment"] = _comment(changes, report, test)
    if report.get("warnings"):
        ret["warnings"] = list(report["warnings"])
    ret["result"] = None if test and changes else True
    ret["changes"] = changes
    return ret



def _comment(changes, report, test):
    moved = [name for name in changes if name != "repaired"]
    count = len(moved)
    noun = "formula" if count == 1 else "formulas"
    if "repaired" in changes:
        paths = sum(len(paths) for paths in changes["repaired"].values())
        verb = "Would rebuild" if test else "Rebuilt"
        return f"{verb} release {report['release']} from git: {paths} served paths were not what git holds."
    if not changes:
        return f"The formula root already serves the {len(report['formulas'])} pinned formulas (release {report['release']})."
    if test:
        return f"Would pin {count} {noun}; release {report['release']} would be published."
    return f"Pinned {count} {noun}; published release {report['release']}."
