"""The uid pool: each running command gets a uid of its own, across all workers of a host."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from activities.sandbox.uids import UidPool

FIRST = 70000
HOLDER = """
import sys, time
from pathlib import Path
from activities.sandbox.uids import UidPool
with UidPool(int(sys.argv[1]), 2, Path(sys.argv[2])).lease() as uid:
    print(uid, flush=True)
    time.sleep(60)
"""


def test_two_workers_lease_different_uids(tmp_path: Path) -> None:
    one, other = UidPool(FIRST, 3, tmp_path / "locks"), UidPool(FIRST, 3, tmp_path / "locks")
    with one.lease() as a, other.lease() as b, one.lease() as c:
        assert sorted([a, b, c]) == [FIRST, FIRST + 1, FIRST + 2]


def test_a_released_uid_is_leased_again(tmp_path: Path) -> None:
    pool = UidPool(FIRST, 2, tmp_path / "locks")
    with pool.lease() as a:
        pass
    with pool.lease() as b, pool.lease() as c:
        assert {b, c} == {FIRST, FIRST + 1} and a in (b, c)


def test_a_full_pool_shares_a_uid_and_never_waits(tmp_path: Path) -> None:
    pool = UidPool(FIRST, 2, tmp_path / "locks")
    with ExitStack() as held:
        leased = [held.enter_context(pool.lease()) for _ in range(5)]
    assert sorted(set(leased)) == [FIRST, FIRST + 1]
    with pool.lease() as a, pool.lease() as b:  # the shared turns gave nothing back twice
        assert {a, b} == {FIRST, FIRST + 1}


def test_a_dead_worker_releases_its_uid(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(FIRST), str(locks)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert holder.stdout is not None
        held = int(holder.stdout.readline())
        pool = UidPool(FIRST, 2, locks)
        with pool.lease() as mine:
            assert mine != held
    finally:
        holder.kill()
        holder.wait()
    with pool.lease() as a, pool.lease() as b:
        assert {a, b} == {FIRST, FIRST + 1}


def test_without_a_private_lock_directory_leases_are_per_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # anyone could plant lock files here
    pool = UidPool(FIRST, 2, shared)
    with pool.lease() as a, pool.lease() as b:
        assert {a, b} == {FIRST, FIRST + 1}
    assert "leases are per worker" in caplog.text
    assert not list(shared.iterdir())


def test_a_lock_file_that_cannot_be_opened_still_leases_in_this_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    (locks / f"{FIRST}.lock").symlink_to(tmp_path / "elsewhere")  # O_NOFOLLOW refuses it
    pool = UidPool(FIRST, 2, locks)
    with pool.lease() as a, pool.lease() as b:
        assert {a, b} == {FIRST, FIRST + 1}
    assert f"sandbox uid {FIRST} leased in this worker only" in caplog.text
    assert not (tmp_path / "elsewhere").exists()
