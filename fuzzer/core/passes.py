"""The pass pool: resolve pass names (and plugin passes) to TVM Pass objects."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from tirfuzz.fuzzer.core.case import PassSpec
from tirfuzz.fuzzer.core.runtime import DLIGHT_PASS, builtin_pass

NAMESPACES = ("tirx.transform", "s_tir.transform")
# Callables in those modules that are not passes over a module by name alone.
NOT_PASSES = {"Apply", "Filter", "Callable"}


# Documented preconditions of passes (TVM-NOTES, pass docs): an error from a pass given a module
# that does not meet them is invalid input. Checked on the module the pass was given.
PRECONDITIONS: dict[str, tuple[str, ...]] = {
    "FlattenBuffer": ("block-free",), "StorageRewrite": ("block-free",),
    "PointerValueTypeRewrite": ("block-free",), "MakePackedAPI": ("block-free",),
    "CommonSubexprElim": ("block-free",), "NarrowDataType": ("block-free",),
    "SplitHostDevice": ("block-free",), "VectorizeLoop": ("block-free",),
    "LowerOpaqueBlock": ("opaque-blocks",), "CompactBufferAllocation": ("opaque-blocks",),
    "ConvertBlocksToOpaque": ("no-block-init",),
    "BF16StorageLegalize": ("packed-api",), "FP8StorageLegalize": ("packed-api",),
    "LowerTVMBuiltin": ("packed-api",),
    "ApplyDefaultSchedule": ("schedulable-blocks",),  # dlight schedules blocks that still have iterators
}


class PassError(ValueError):
    """An unknown pass name or a plugin file that cannot be used."""


def _namespace(ns: str):
    import tvm
    import tvm.s_tir  # noqa: F401  (registers s_tir.transform)

    mod = tvm
    for part in ns.split("."):
        mod = getattr(mod, part)
    return mod


def builtin_pass_names() -> list[str]:
    """Every registered pass constructor, as `tirx.transform.X` / `s_tir.transform.Y`."""
    names = []
    for ns in NAMESPACES:
        mod = _namespace(ns)
        for n in dir(mod):
            obj = getattr(mod, n)
            if n[:1].isupper() and n not in NOT_PASSES and inspect.isfunction(obj):
                names.append(f"{ns}.{n}")
    return sorted(names + [DLIGHT_PASS])


def load_plugin(path: str | Path) -> dict[str, Any]:
    """Import a plugin file; return its module-level Pass objects as {`plugin:stem.name`: Pass}."""
    import tvm

    p = Path(path)
    if not p.is_file():
        raise PassError(f"pass plugin {p}: no such file")
    spec = importlib.util.spec_from_file_location(f"tirfuzz_plugin_{p.stem}", p)
    if spec is None or spec.loader is None:
        raise PassError(f"pass plugin {p}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a plugin's own error, reported in one line
        raise PassError(f"pass plugin {p}: import failed: {type(e).__name__}: {e}") from None
    found = {f"plugin:{p.stem}.{n}": v for n, v in vars(module).items()
             if isinstance(v, tvm.ir.transform.Pass)}
    if not found:
        raise PassError(f"pass plugin {p}: defines no module-level tvm.ir.transform.Pass")
    sys.modules.setdefault(spec.name, module)
    return found


class PassPool:
    """Built-in passes by dotted name plus plugin passes; validates and instantiates PassSpecs."""

    def __init__(self, plugin_files: tuple[str, ...] | list[str] = ()):
        self.plugin_files = [str(f) for f in plugin_files]
        self.plugins: dict[str, Any] = {}
        for f in self.plugin_files:
            self.plugins.update(load_plugin(f))
        self._builtin = set(builtin_pass_names())

    def names(self) -> list[str]:
        return sorted(self._builtin) + sorted(self.plugins)

    def check(self, spec: PassSpec) -> None:
        """Raise PassError if the name is not in the pool."""
        if spec.name in self._builtin or spec.name in self.plugins:
            return
        if spec.name.startswith("plugin:"):
            raise PassError(f"unknown plugin pass {spec.name!r} (load its file with --pass-plugin)")
        raise PassError(f"unknown pass {spec.name!r} (see `tirfuzz passes` for the pool)")

    def instantiate(self, spec: PassSpec):
        """The Pass object for a spec; raises TypeError/ValueError on arguments the pass refuses."""
        self.check(spec)
        if spec.name in self.plugins:
            if spec.args:
                raise TypeError(f"plugin pass {spec.name} takes no arguments")
            return self.plugins[spec.name]
        return builtin_pass(spec.name, spec.args)
