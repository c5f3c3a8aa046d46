"""Stand-in for pypa's get-pip.py, which ansible-test downloads from a host this network cannot reach.

ansible-test runs this file as ``get_pip_<version>.py <pip install options> <packages>`` inside a fresh
virtual environment made without pip. It bootstraps the pip bundled with the standard library (ensurepip,
in a child process: ensurepip switches off pip's configuration in its own process environment) and then runs
``pip install`` with the same options and packages, which come from PyPI.
"""
import os
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}   # options of get-pip.py itself, not of pip install

try:
    os.getcwd()
except FileNotFoundError:   # ansible-test may call us from a temporary directory it already removed
    os.chdir(sys.prefix)
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
os.execv(sys.executable, [sys.executable, "-m", "pip", "install", *args])
