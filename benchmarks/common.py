"""Small helpers shared by the benchmark processes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

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


def around_the_clock(flow: Path, directory: Path) -> Path:
    """A copy of ``flow`` in ``directory`` whose ``support_hours`` nodes are open 24/7.

    The benchmark measures the AI node, at whatever hour it runs (the example
    hotline sends nights and weekends to voicemail). Relative ``path:`` values
    are made absolute, so the copy reads the same files.
    """
    import yaml

    data = yaml.safe_load(flow.read_text())
    for node in (data.get("nodes") or {}).values():
        if isinstance(node, dict) and node.get("type") == "support_hours":
            node["hours"] = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}]

    def absolute(value):
        if isinstance(value, dict):
            return {
                k: str((flow.parent / v).resolve()) if k == "path" and isinstance(v, str) and not Path(v).is_absolute() else absolute(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [absolute(v) for v in value]
        return value

    copy = directory / f"{flow.stem}_24_7.yaml"
    copy.write_text(yaml.safe_dump(absolute(data), sort_keys=False, allow_unicode=True))
    return copy

