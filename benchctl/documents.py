"""The documents benchctl reads: TOML and JSON files, their format tags, dotted paths into them.

One loader per syntax, so every file a user hands benchctl (workloads,
suites, claims, model profiles, run.json, fingerprints) fails the same way:
one InputError line naming the file (and the line, where the parser knows
it), never a traceback.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from benchctl.errors import InputError

# tomllib puts the position in the message only ("... (at line 3, column 7)"); TOMLDecodeError
# grows lineno/colno attributes in Python 3.14.
_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")


def load_toml(path: str | Path, what: str = "TOML file") -> dict[str, Any]:
    """The parsed document; InputError naming the file (and line) when it is missing, unreadable or not TOML."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"no such {what}", path) from None
    except tomllib.TOMLDecodeError as e:
        m = _TOML_AT.search(str(e))
        msg = _TOML_AT.sub("", str(e))
        raise InputError(f"not valid TOML ({msg})", path, int(m.group(1)) if m else None) from None
    except UnicodeDecodeError:
        raise InputError(f"not UTF-8 text (a {what} was expected)", path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path) from None


def load_json(path: str | Path) -> Any:
    """The parsed document; InputError naming the file (and line) when it is unreadable or not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", path, e.lineno) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path) from None


def wrong_type(value: Any, types: type | tuple[type, ...]) -> str | None:
    """The expected type names ("int/float") when `value` is none of `types`, else None.

    The one type rule of every document benchctl reads (workload specs,
    campaign plans): a bool is not a number, though Python's True is an int.
    """
    tt = types if isinstance(types, tuple) else (types,)
    if isinstance(value, tt) and (bool in tt or not isinstance(value, bool)):
        return None
    return "/".join(t.__name__ for t in tt)


def format_version(fmt: object, prefix: str) -> int | None:
    """Major version N of a format tag "<prefix>/N" (or "<prefix>/N.M"); None if `fmt` is no tag of `prefix`.

    Raises ValueError for a tag of `prefix` whose version is not a number.
    """
    if not isinstance(fmt, str) or not fmt.startswith(prefix + "/"):
        return None
    return int(fmt[len(prefix) + 1 :].split(".")[0])


def get(doc: Any, dotted: str, default: Any = None) -> Any:
    """Value at "section.key" of a document (default if absent or null).

    Only the first dot separates: a key may itself hold dots, as the
    fingerprint's "tools.mkfs.xfs" does.
    """
    section, _, key = dotted.partition(".")
    node = doc.get(section) if isinstance(doc, dict) else None
    if key:
        node = node.get(key) if isinstance(node, dict) else None
    return default if node is None else node
