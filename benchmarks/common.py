"""Small helpers shared by the benchmark processes."""

from __future__ import annotations

import os
import socket

TOKEN = "bench-twilio-auth-token"
ACCOUNT = "AC" + "b" * 32
MEDIA_PATH = "/twilio/media"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_sample(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system of all threads, RSS bytes) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime = field 14, stime = 15, rss = 24
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = int(fields[21]) * PAGE
    return cpu, rss


def system_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, total CPU seconds) since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # steal included, guest counted in user already
    return (total - idle) / CLK_TCK, total / CLK_TCK
