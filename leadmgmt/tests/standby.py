"""A real PostgreSQL streaming replica of the test server, for the replica tests: a
second cluster on a spare port made with ``pg_basebackup -R``, started and stopped by
the test (as the ``postgres`` user when the tests run as root, as PostgreSQL insists)."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from leadmgmt.tests.processes import free_port


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class StandbyUnavailable(Exception):
    """Why no standby could be made here (the reason is the message)."""


@dataclass
class Standby:
    data_dir: Path
    port: int
    pg_ctl: str

    @classmethod
    def make(cls, *, primary_host: str, primary_port: int, user: str) -> "Standby":
        basebackup, pg_ctl = _bin("pg_basebackup"), _bin("pg_ctl")
        if not (basebackup and pg_ctl):
            raise StandbyUnavailable("pg_basebackup and pg_ctl are not installed")
        data_dir = Path(tempfile.mkdtemp(prefix="leadmgmt-standby-"))
        if os.geteuid() == 0:
            shutil.chown(data_dir, "postgres", "postgres")
        data_dir.chmod(0o700)
        source = ["-h", primary_host, "-p", str(primary_port), "-U", user]
        copied = subprocess.run(
            _as_postgres(
                [basebackup, *source, "-D", str(data_dir), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]
            ),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if copied.returncode != 0:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise StandbyUnavailable(
                f"pg_basebackup from {primary_host}:{primary_port} failed (the primary's pg_hba.conf needs "
                f"'host replication all 127.0.0.1/32 trust'; .ci/run adds it): {copied.stderr.strip()[-500:]}"
            )
        # A Debian cluster keeps its configuration outside the data directory: the copy has none.
        for name, text in {
            "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
            "postgresql.conf": "",
        }.items():
            path = data_dir / name
            if not path.exists():
                path.write_text(text)
                if os.geteuid() == 0:
                    shutil.chown(path, "postgres", "postgres")
        standby = cls(data_dir, free_port(), pg_ctl)
        standby.start()
        return standby

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c hot_standby=on "
            "-c shared_buffers=32MB -c logging_collector=off -c fsync=off"
        )
        started = subprocess.run(
            _as_postgres(
                [self.pg_ctl, "-D", str(self.data_dir), "-o", options, "-l", str(self.data_dir / "log"), "-w", "start"]
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if started.returncode != 0:
            log_path = self.data_dir / "log"
            log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise StandbyUnavailable(f"the standby did not start: {started.stderr.strip()} {log}")

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([self.pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def wait_until(condition, *, seconds: float = 30, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
