"""A state module shipped by the example common formula."""


def present(name):
    """Succeed without changes; shows that _states/ is merged into the formula root."""
    return {"name": name, "result": True, "changes": {}, "comment": "common_marker is loaded"}
