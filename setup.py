"""salt-shaker: formula dependency manager for SaltStack."""
from setuptools import setup

SALT_PACKAGES = {
    "shaker_runners": "_runners",
    "shaker_modules": "_modules",
    "shaker_states": "_states",
}

# Oldest releases the code is tested with: .ci/constraints-minimum.txt pins exactly these.
RUNTIME = [
    "PyYAML>=6.0",  # 5.4.1 no longer builds on Python 3.11
    "pygit2>=1.18.2",  # first with settings.server_timeout: older ones wait on a silent remote forever
    "requests>=2.25",
    "resolvelib>=1.2.1",  # 1.1 explains some conflicts from another branch of its search; 1.2.0 raises IndexError while backjumping
    "packaging>=22",
]
TEST_TOOLS = ["pytest>=8", "hypothesis>=6", "ruff", "mypy", "types-PyYAML", "types-requests", "prometheus_client>=0.26"]  # parses the metrics file
SALT_UNDER_TEST = ["salt==3008.3", "pytest-salt-factories==1.0.5"]
WHEEL_CHECK = ["build"]  # .ci/check-wheel

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
    install_requires=RUNTIME,
    extras_require={
        "test": TEST_TOOLS + SALT_UNDER_TEST + WHEEL_CHECK,
        "test-core": TEST_TOOLS,  # the suite without Salt (-m "not salt"), as the minimum-versions run uses it
        "dev": ["pyinstrument"],
    },
    entry_points={
        "console_scripts": ["salt-shaker = shaker_core.cli:entry"],
        "salt.loader": ["salt-shaker = shaker_core.saltext:loader_dirs"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Salt",
        "Topic :: System :: Systems Administration",
    ],
)
