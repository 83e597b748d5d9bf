"""The version is the release tag's (hatch-vcs), so an install from a checkout must see tags."""

from importlib.metadata import version

import reltime


def test_the_version_comes_from_the_release_tag():
    assert reltime.__version__ == version("reltime")
    # This release is tagged v1.4.0; a checkout without its tags would install 0.1.devN.
    assert reltime.__version__.startswith("1.4."), reltime.__version__
