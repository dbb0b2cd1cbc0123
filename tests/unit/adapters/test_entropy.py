"""The block-buffered random source: every byte handed out once, in a forked child never the
parent's, and large requests straight from the system."""

from __future__ import annotations

import os
import threading

from floww.adapters import entropy
from floww.adapters.inprocess.ids import RandomIds


def test_bytes_are_never_handed_out_twice() -> None:
    seen: list[bytes] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [entropy.random_bytes(13) for _ in range(2000)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8000 and all(len(b) == 13 for b in seen)
    assert len(set(seen)) == len(seen)  # 104 random bits each: a repeat means reuse
    assert len(entropy.random_bytes(entropy.BLOCK + 1)) == entropy.BLOCK + 1


def test_a_forked_child_does_not_repeat_its_parents_bytes() -> None:
    entropy.random_bytes(16)  # the parent holds a block with bytes left in it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next bytes, to the parent
        try:
            os.write(write, entropy.random_bytes(16))
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != entropy.random_bytes(16)


def test_ids_stay_distinct_and_well_formed() -> None:
    ids = RandomIds()
    made = {ids.new_id("exe") for _ in range(5000)}
    assert len(made) == 5000
    assert all(len(i) == 24 and i.startswith("exe_") for i in made)
