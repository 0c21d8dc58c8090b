"""Whole-file writes."""

import pytest


def test_atomic_write_leaves_readable_file_and_nothing_on_error(tmp_path):
    import os
    import stat

    from minewatch.atomic import atomic_path, write_text

    target = tmp_path / "out.txt"
    write_text(target, "hello")
    assert target.read_text() == "hello"
    assert stat.S_IMODE(os.stat(target).st_mode) & 0o044  # group/other can read (umask allowing)
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "half.txt") as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert not (tmp_path / "half.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
