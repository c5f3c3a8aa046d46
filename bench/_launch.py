"""Start one command, wait for it, print its wall time and rusage as one JSON line to a file.

Run as ``python -I -S _launch.py RESULT_FILE ARGV...`` by bench/_measure.py. It exists because Linux charges
a child's peak RSS with the RSS of the process that forked it (at exec the old address space's high-water mark
is kept): measured straight from a large parent (a pytest or bench process of a few hundred MB), even `true`
would report hundreds of MB. This launcher is small (an isolated interpreter without site, ~10 MB), so the
figures belong to the measured command. Wall time is taken here too, so the launcher's own start-up is not
counted. Standard input, output, error, working directory and environment are inherited.
"""
import json
import os
import sys
import time


def main():
    result, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ)
    except OSError as exc:
        sys.stderr.write("cannot start %s: %s\n" % (argv[0], exc))
        return 127
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as out:
        json.dump({"wall_s": wall, "maxrss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
                   "returncode": code}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
