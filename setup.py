"""salt-shaker: formula dependency manager for SaltStack."""
from setuptools import setup

SALT_PACKAGES = {
    "shaker_runners": "_runners",
    "shaker_modules": "_modules",
    "shaker_states": "_states",
}

setup(
    name="salt-shaker",
    version="2.0.0.dev0",
    description="Resolve, pin and publish Salt formula dependencies from git, atomically.",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=["shaker_core", *SALT_PACKAGES],
    package_dir=SALT_PACKAGES,
    install_requires=[
        "PyYAML>=5.4",
        "pygit2>=1.14",
        "requests>=2.25",
        "resolvelib>=1.0",
        "packaging>=22",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "hypothesis>=6",
            "salt==3008.3",
            "pytest-salt-factories==1.0.5",
            "ruff",
            "mypy",
            "types-PyYAML",
            "types-requests",
        ],
        "dev": ["pyinstrument"],
    },
    entry_points={
        "console_scripts": ["salt-shaker = shaker_core.cli:main"],
        "salt.loader": ["salt-shaker = shaker_core.saltext:loader_dirs"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Salt",
        "Topic :: System :: Systems Administration",
    ],
)
