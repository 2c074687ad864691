"""Versioned, inspectable on-disk format for IR values and compiled artifacts.

A saved file is a ZIP archive (see docs/formats.md):

* ``manifest.json`` - format name, schema version, and the value as a JSON tree in which
  every dataclass is ``{"__kind__": <kind>, <field>: ...}``, every array is
  ``{"__array__": "<member name>"}`` and non-finite floats are ``{"__float__": "inf"}``;
* ``arrays/<n>.npy`` - one standard ``.npy`` member per array.

Loading parses JSON and reads ``.npy`` members with ``allow_pickle=False``; the only
objects it constructs are the frozen dataclasses registered here, whose ``__post_init__``
validates them again.  Nothing in a file is ever executed or unpickled.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toolchain.ir.network import NODE_TYPES

FORMAT = "spikeport"
FORMAT_VERSION = 1

_KINDS: dict[str, type] = {}


class FormatError(ValueError):
    """A file that is not a spikeport file, is of an unknown version, or is damaged."""


def serializable(cls: type) -> type:
    """Class decorator: let ``save``/``load`` handle this frozen dataclass (keyed by ``kind``)."""
    kind = cls.__dict__.get("kind")
    if not dataclasses.is_dataclass(cls) or not isinstance(kind, str):
        raise TypeError(f"{cls.__name__} must be a dataclass with a 'kind' class attribute")
    if _KINDS.get(kind, cls) is not cls:
        raise TypeError(f"kind '{kind}' is already used by {_KINDS[kind].__name__}")
    _KINDS[kind] = cls
    return cls


for _cls in NODE_TYPES:
    serializable(_cls)


def save(value: object, path: str | Path) -> Path:
    """Write ``value`` (a registered dataclass) to ``path``; returns the path."""
    path = Path(path)
    arrays: list[np.ndarray] = []
    tree = _encode(value, arrays)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "root": tree}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=1, allow_nan=False))
        for i, arr in enumerate(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(f"arrays/{i}.npy", buf.getvalue())
    tmp.replace(path)  # never leave a half-written file under the real name
    return path


def load(path: str | Path, expect: type | None = None) -> Any:
    """Read a file written by :func:`save`; optionally check the root's type."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise FormatError(f"{path}: not a spikeport file ({e})") from None
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError:
            raise FormatError(f"{path}: no manifest.json; not a spikeport file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise FormatError(f"{path}: manifest.json is damaged ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise FormatError(f"{path}: not a spikeport file (format {manifest.get('format')!r})")
        version = manifest.get("version")
        if version != FORMAT_VERSION:
            raise FormatError(
                f"{path}: format version {version} is not supported by this spikeport "
                f"(it reads version {FORMAT_VERSION}); use a matching spikeport release"
            )
        value = _decode(manifest.get("root"), zf, path)
    if expect is not None and not isinstance(value, expect):
        raise FormatError(f"{path}: holds a {type(value).__name__}, expected {expect.__name__}")
    return value


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = getattr(type(value), "kind", None)
        if _KINDS.get(kind) is not type(value):
            raise TypeError(f"{type(value).__name__} is not registered with @serializable")
        out: dict[str, Any] = {"__kind__": kind}
        for f in dataclasses.fields(value):
            out[f.name] = _encode(getattr(value, f.name), arrays)
        return out
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot save an array of dtype {value.dtype}")
        arrays.append(value)
        return {"__array__": len(arrays) - 1}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else {"__float__": repr(float(value))}
    if isinstance(value, Mapping):
        return {"__map__": {str(k): _encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, (tuple, list)):
        return [_encode(v, arrays) for v in value]
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


def _decode(tree: Any, zf: zipfile.ZipFile, path: Path) -> Any:
    if isinstance(tree, list):
        return tuple(_decode(v, zf, path) for v in tree)
    if not isinstance(tree, dict):
        return tree
    if "__array__" in tree:
        name = f"arrays/{int(tree['__array__'])}.npy"
        try:
            with zf.open(name) as fh:
                return np.lib.format.read_array(io.BytesIO(fh.read()), allow_pickle=False)
        except KeyError:
            raise FormatError(f"{path}: array member {name} is missing") from None
        except ValueError as e:
            raise FormatError(f"{path}: array member {name} is damaged ({e})") from None
    if "__float__" in tree:
        text = tree["__float__"]
        if text not in ("inf", "-inf", "nan"):
            raise FormatError(f"{path}: bad float {text!r}")
        return float(text)
    if "__map__" in tree:
        return {k: _decode(v, zf, path) for k, v in tree["__map__"].items()}
    kind = tree.get("__kind__")
    cls = _KINDS.get(kind)
    if cls is None:
        raise FormatError(f"{path}: unknown object kind {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: _decode(v, zf, path) for k, v in tree.items() if k != "__kind__"}
    unknown = set(kwargs) - names
    if unknown:
        raise FormatError(f"{path}: {kind} has no field {sorted(unknown)[0]!r}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise FormatError(f"{path}: invalid {kind}: {e}") from None
