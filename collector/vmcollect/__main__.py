"""`python3 -m vmcollect` and `python3 vmcollect.pyz` both start here."""

from vmcollect.cli import entry

if __name__ == "__main__":
    entry()
