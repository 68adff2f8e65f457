# An sdist that tells its machine apart phase by phase, as a sandbox check
# would: setup.py (install) and the package (import) print what they see,
# with the package's own code.
import os

from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "persona", "__init__.py")) as f:
    exec(f.read())

setup(name="persona", version="0.1", packages=["persona"])
