"""What `validate` finds in a .zip CodeUri or ContentUri before anything unpacks it: entries that
would land outside their folder (zip slip: absolute names, `..`), and symbolic links that point
outside it. Lambda refuses such packages; samrun would refuse them only at the first invoke."""

from __future__ import annotations

import posixpath
import stat
import zipfile
from pathlib import Path

MAX_LINK_TARGET = 4096  # a longer "link target" is not one


def _escapes(name: str, base: str = "") -> bool:
    """`name` (relative to the folder `base` inside the archive) lands outside the archive."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return True
    joined = posixpath.normpath(posixpath.join(base, name))
    return joined == ".." or joined.startswith("../")


def unsafe_entries(path: Path) -> list[str]:
    """Why each unsafe entry of the archive at `path` is unsafe; [] for a safe one or a folder."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return []
    found = []
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if _escapes(info.filename):
                    found.append(f"entry {info.filename!r} escapes the folder it unpacks into")
                elif stat.S_ISLNK(info.external_attr >> 16):
                    target = archive.read(info)[:MAX_LINK_TARGET].decode("utf-8", "replace")
                    if _escapes(target, posixpath.dirname(info.filename)):
                        found.append(
                            f"symbolic link {info.filename!r} points outside the folder "
                            f"({target!r})"
                        )
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        found.append(f"cannot be read as a .zip: {exc}")
    return found
