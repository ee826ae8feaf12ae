"""The one check that an archive member (zip or tar) is safe to read or extract.

Used for downloaded archives (``Data_manager.readers.archive``) and for result zips
(``Experiment_handler.result_zip_validation``) alike. A member is unsafe when
extracting it could write outside its folder: an empty name, an absolute path (``/``
or ``\\`` first, or a drive such as ``C:`` in the first component), a ``..`` component
(with ``/`` or ``\\`` as separator), or a symbolic link.
"""

import re


def unsafe_member_reason(name: str, is_symlink: bool = False) -> str | None:
    """Why the member ``name`` is unsafe, as a phrase naming it; ``None`` when it is safe."""
    parts = [part for part in re.split(r"[/\\]", name) if part]
    if not parts:
        return f"unsafe member path {name!r}: the name is empty"
    if name.startswith(("/", "\\")) or ":" in parts[0]:
        return f"unsafe member path {name!r}: it has an absolute path"
    if ".." in parts:
        return f"unsafe member path {name!r}: it leaves the extraction folder ('..')"
    if is_symlink:
        return f"member {name!r} is a symlink (symbolic link)"
    return None
