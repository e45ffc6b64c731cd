#!/usr/bin/env python3
"""overcommit workload: reserve a large private writable mapping and (almost) never touch it.

Private writable anonymous mappings are charged to Committed_AS when they are made, whether or not
a page is ever touched (MAP_NORESERVE would not be: it is not used). A few of these processes
commit far more than RAM + swap while their RSS stays small. It touches --touch-mib MiB so it
looks like a real process that uses a little of what it reserved.

    reserver.py --name NAME --gib 16 --seconds 40
"""

import argparse
import mmap
import time

from _wl import MIB, PAGE, deadline, exit_on_term, log, set_name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="reserver")
    ap.add_argument("--gib", type=float, default=16)
    ap.add_argument("--touch-mib", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=40)
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    size = int(a.gib * 1024) * MIB
    m = mmap.mmap(
        -1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=mmap.PROT_READ | mmap.PROT_WRITE
    )
    for off in range(0, a.touch_mib * MIB, PAGE):
        m[off] = 1
    log(a.name, f"reserved {a.gib:.1f} GiB, touched {a.touch_mib} MiB")
    end = deadline(a.seconds)
    while time.monotonic() < end:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
