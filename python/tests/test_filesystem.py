"""Filesystem: contents, listings, metadata and walks equal the source tree's."""

from __future__ import annotations

import os
import stat
import threading

import pytest

import snapaudit


@pytest.fixture(scope="module")
def fs(images):  # type: ignore[no-untyped-def]
    return snapaudit.open(images.gpt).root()


def test_every_file_reads_back_byte_for_byte(images, fs) -> None:
    regular = [(p, h) for p, h, st in images.source_entries() if stat.S_ISREG(st.st_mode)]
    assert len(regular) > 300
    for path, host in regular:
        assert fs.read(path) == host.read_bytes(), path


def test_every_directory_lists_like_os_listdir(images, fs) -> None:
    dirs = ["/"] + [p for p, h, st in images.source_entries() if stat.S_ISDIR(st.st_mode)]
    for path in dirs:
        expected = sorted(os.listdir(images.src / path.lstrip("/")))
        if path == "/":
            expected = sorted(expected + ["lost+found"])  # made by mke2fs
        assert fs.listdir(path) == expected, path


def test_walk_matches_os_walk(images, fs) -> None:
    expected = {}
    for dirpath, dirnames, filenames in os.walk(images.src):
        rel = "/" + os.path.relpath(dirpath, images.src) if dirpath != str(images.src) else "/"
        # os.walk counts a symlink to a directory as a directory; snapaudit
        # never follows symlinks and counts them as files.
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirs = sorted(set(dirnames) - set(links))
        files = sorted(filenames + links)
        if rel == "/":
            dirs = sorted(dirs + ["lost+found"])
        expected[rel] = (dirs, files)
    expected["/lost+found"] = ([], [])
    got = {dirpath: (dirnames, filenames) for dirpath, dirnames, filenames in fs.walk("/")}
    assert got == expected


def test_walk_is_top_down_in_name_order(fs) -> None:
    order = [dirpath for dirpath, _, _ in fs.walk("/")]
    assert order[0] == "/"
    assert order.index("/data") < order.index("/data/many")
    assert order.index("/etc") < order.index("/etc/ssh") < order.index("/home")


def test_walk_prunes_removed_dirnames(fs) -> None:
    seen = []
    for dirpath, dirnames, _ in fs.walk("/"):
        seen.append(dirpath)
        if dirpath == "/":
            dirnames.remove("data")
            dirnames.remove("usr")
    assert "/etc/ssh" in seen
    assert not any(p.startswith(("/data", "/usr")) for p in seen)


def test_walk_subtree_and_errors(fs) -> None:
    assert [d for d, _, _ in fs.walk("/home")] == ["/home", "/home/user", "/home/user/notes"]
    errors: list[Exception] = []
    assert list(fs.walk("/missing", onerror=errors.append)) == []
    assert isinstance(errors[0], FileNotFoundError) and errors[0].filename == "/missing"
    errors.clear()
    assert list(fs.walk("/etc/fstab", onerror=errors.append)) == []
    assert isinstance(errors[0], NotADirectoryError)
    # Without onerror, unreadable directories are skipped silently (os.walk).
    assert list(fs.walk("/missing")) == []


KINDS = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFCHR: "char-device",
    stat.S_IFBLK: "block-device",
    stat.S_IFSOCK: "socket",
}


def test_every_entry_stats_like_the_source(images, fs) -> None:
    entries = images.source_entries()
    assert {KINDS[stat.S_IFMT(st.st_mode)] for _, _, st in entries} == {"file", "dir", "symlink", "fifo"}
    for path, host, src in entries:
        st = fs.stat(path, follow_symlinks=False)
        kind = KINDS[stat.S_IFMT(src.st_mode)]
        assert (st.path, st.kind, st.mode, st.uid, st.gid) == (
            path, kind, stat.S_IMODE(src.st_mode), src.st_uid, src.st_gid,
        ), path  # fmt: skip
        assert st.mtime == int(src.st_mtime), path
        if kind in ("file", "symlink"):  # a directory's size depends on the fs
            assert st.size == src.st_size, path
        assert st.symlink_target == (os.readlink(host) if kind == "symlink" else None), path


def test_stat_fields(images, fs) -> None:
    st = fs.stat("/etc/shadow")
    assert (st.kind, st.mode, st.size) == ("file", 0o640, 26)
    if os.geteuid() == 0:  # the fixture could give the files away
        assert (st.uid, st.gid) == (0, 42)
        assert (fs.stat("/home/user").uid, fs.stat("/home/user").gid) == (1000, 1000)
    assert st.path == "/etc/shadow" and st.symlink_target is None
    assert isinstance(st.crtime, int)  # 256-byte inodes carry a creation time
    assert fs.stat("/etc/hostname").mtime == images.fixed_mtime
    assert fs.stat("/usr/bin/tool").mode == 0o755
    assert fs.stat("/home/user").kind == "dir"
    assert fs.stat("/var/log/pipe").kind == "fifo"
    assert fs.stat("/data/empty").size == 0


def test_stat_symlinks(fs) -> None:
    link = fs.stat("/etc/motd", follow_symlinks=False)
    assert (link.kind, link.symlink_target) == ("symlink", "hostname")
    followed = fs.stat("/etc/motd")
    assert (followed.kind, followed.size) == ("file", len(b"fixture-host\n"))
    assert fs.stat("/bin", follow_symlinks=False).symlink_target == "usr/bin"
    assert fs.readlink("/etc/localtime") == "/usr/share/zoneinfo/UTC"
    # A dangling link can be lstat'ed, not stat'ed (like os).
    assert fs.stat("/etc/localtime", follow_symlinks=False).kind == "symlink"
    with pytest.raises(FileNotFoundError):
        fs.stat("/etc/localtime")


def test_stat_is_frozen_and_readable(fs) -> None:
    st = fs.stat("/etc/shadow")
    with pytest.raises(AttributeError):
        st.size = 0  # type: ignore[misc]
    assert st == fs.stat("/etc/shadow")
    assert repr(st).startswith(f"Stat(path='/etc/shadow', kind='file', mode=0o640, uid={st.uid}, gid={st.gid}, size=26, mtime=")


def test_symlinks_are_followed_inside_the_image(fs) -> None:
    assert fs.read("/bin/tool") == fs.read("/usr/bin/tool")
    assert fs.read("/etc/motd") == b"fixture-host\n"
    assert fs.listdir("/bin") == ["tool"]


def test_exists(fs) -> None:
    assert fs.exists("/etc/fstab") and fs.exists("/data/many") and fs.exists("/")
    assert not fs.exists("/etc/nope")
    assert not fs.exists("/etc/fstab/below-a-file")
    assert not fs.exists("/etc/localtime")  # dangling: exists follows links
    assert fs.exists("/bin/tool")


def test_unicode_names(fs) -> None:
    name = "\u00fcn\u00efc\u00f8d\u00e9.txt"
    assert name in fs.listdir("/data")
    assert fs.read("/data/" + name) == "h\u00e9llo\n".encode()


def test_read_cap(fs) -> None:
    assert len(fs.read("/var/log/big.log")) > 1_000_000
    with pytest.raises(snapaudit.InvalidInputError, match="limit") as e:
        fs.read("/var/log/big.log", max_bytes=1000)
    assert isinstance(e.value, ValueError)
    assert fs.read("/etc/hostname", max_bytes=13) == b"fixture-host\n"
    assert snapaudit.DEFAULT_READ_MAX_BYTES == 256 * 1024 * 1024


def test_concurrent_readers_agree(fs) -> None:
    """Python threads share one Filesystem; each native call opens its own
    reader without the GIL, so they run side by side and agree."""
    expected = fs.read("/var/log/big.log")
    results: list[bool] = []

    def work() -> None:
        for _ in range(5):
            results.append(fs.read("/var/log/big.log") == expected)
            results.append([d for d, _, _ in fs.walk("/data")] == ["/data", "/data/many"])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 40
