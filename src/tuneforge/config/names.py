"""Names that become one folder under ``runs/``: ``name`` (a run) and ``tune.study``.

A name is used as a path component, so ``../../escape`` or ``a/b`` would write outside the runs
folder or into another run's; such names are refused (exit code 2) instead of silently changed,
so the folder on disk is always the name the user wrote.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

#: Longest name kept: most file systems allow 255 bytes per path component.
MAX_NAME_BYTES = 200


def check_folder_name(name: str) -> str:
    """``name`` when it can be one folder name; raises ValueError saying why not."""
    if not name.strip():
        raise ValueError("a name cannot be empty or blank")
    if name in (".", "..") or any(sep in name for sep in "/\\"):
        raise ValueError("not one folder name (no '/', '\\' or '..'): it names a folder under runs/")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError("a name cannot hold a control character")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValueError(f"a name is at most {MAX_NAME_BYTES} bytes (UTF-8) long")
    return name


FolderName = Annotated[str, AfterValidator(check_folder_name)]
