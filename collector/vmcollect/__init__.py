"""vmcollect: sample Linux memory files from /proc and /sys into one self-describing bundle.

Standard library only, Python 3.6+: it runs on customers' production hosts. The bundle
format is documented in docs/bundle-format.md.
"""

__version__ = "0.1.0"

FORMAT_NAME = "vmcollect-bundle"
FORMAT_VERSION = 2
