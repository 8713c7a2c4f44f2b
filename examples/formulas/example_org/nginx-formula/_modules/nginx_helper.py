"""An execution module shipped by the example nginx formula."""


def version():
    """Return the example formula's module version.

    CLI Example:

    .. code-block:: bash

        salt '*' nginx_helper.version
    """
    return "nginx-helper-1"
