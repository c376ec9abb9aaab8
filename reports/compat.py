"""Running a reproducer written for the installed TVM on another apache-tvm release from PyPI.

What differs between the releases (found by installing each one in its own virtual environment and
running tirfuzz's reproducers of real bugs on it; 0.27.0.post1 is the release tirfuzz targets):

- tvm-ffi. Each release loads only with the apache-tvm-ffi it was built against, which its requirement
  (`>=`) does not pin: 0.25.0 and 0.25.0.post1 need 0.1.12 (with 0.1.13 and later libtvm_runtime.so does
  not load: undefined symbol `tvm::ffi::json::Stringify`); 0.26.0 takes 0.1.13.post2 or 0.1.14.post1;
  0.27.0 and 0.27.0.post1 take 0.1.14.post1. With 0.1.15.post2 (what pip picks) 0.26 and 0.27 import,
  but `tvm.ir.save_json` kills the process. ffi 0.1.12 has no `tvm_ffi.structural_walk`.
- Names that did not change in this range: `tvm.tirx`, `tvm.s_tir`, `from tvm.script import tirx as T`,
  `T.sblock`, `@T.prim_func(s_tir=True)`, `tvm.compile`, `tvm.tirx.register_tir_pipeline`,
  `tvm.runtime.tensor`, `tvm.ir.assert_structural_equal`, the PassContext keys but one. (The renames
  tir -> tirx and block -> sblock happened before 0.25.0: no release here has `tvm.tir` or `T.block`.)
- 0.27.0: `tvm.arith` became `tvm.sym` (rewritten back below 0.27).
- 0.27.0: `s_tir.transform.StmtSimplify` and `s_tir.transform.ConvertSSA` (the block-aware halves) split
  from the `tirx.transform` passes of those names, which before handled block IR too; TVM's own default
  pipeline switched from `tirx.transform.StmtSimplify` to the s_tir one (rewritten back below 0.27).
- 0.27.0: PassContext key `tirx.s_tir.ldg32` was `tirx.ptx.ldg32` (rewritten).
- 0.27.0: bitwise operations became IR nodes that print as `T.LShift`, `T.RShift`, `T.BitwiseAnd`,
  `T.BitwiseOr`, `T.BitwiseXor`, `T.BitwiseNot`; before, they are calls written `T.shift_left`, ...
  (rewritten; the older parser may fold constant operands, so the IR is equal in value, not in form).
- 0.26.0: a buffer parameter with a symbolic dimension prints as `A: T.Buffer(("n", 8), ...)` with
  `n = T.int32()` in the body; 0.25's parser refuses the string ("data must be int or PrimExpr") and
  wants `T.handle` parameters and `T.match_buffer` (not rewritten: 0.25 cannot run such a reproducer).
- 0.26.0: PrimFunc parameters are Vars of BufferType with `.shape`; in 0.25 they are handles and the
  buffers are in `func.buffer_map` (the harness's argument specs and the short run script are rewritten
  to read it).

`adapt(text, version)` applies what a release needs and says what it changed; `cannot_run(text, version)`
names what no rewrite can help. A run of the adapted script prints PARSED_MARK once the IR parsed, so the
runner (reports/releases.py) can tell "cannot run" from "does not reproduce".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

PARSED_MARK = "@@tirfuzz: the IR parsed"


def version_key(version: str) -> tuple[int, ...]:
    """Release order: 0.25.0 < 0.25.0.post1 < 0.26.0."""
    main, _, post = version.partition(".post")
    nums = [int(x) for x in re.findall(r"\d+", main)][:3]
    return (*nums, *[0] * (3 - len(nums)), int(post) if post.isdigit() else -1 if not post else 0)


@dataclass(frozen=True)
class Rule:
    """A rewrite every release before `until` needs."""

    until: str
    what: str
    apply: Callable[[str], tuple[str, int]]   # text -> (new text, how many places changed)
    same_ir: bool = True   # False: the release parses the rewritten TVMScript to other (equal-valued) IR


def _sub(pattern: str, repl: str) -> Callable[[str], tuple[str, int]]:
    return lambda text: re.subn(pattern, repl, text)


def _replace(old: str, new: str) -> Callable[[str], tuple[str, int]]:
    return lambda text: (text.replace(old, new), text.count(old))


BITWISE = {"LShift": "shift_left", "RShift": "shift_right", "BitwiseAnd": "bitwise_and",
           "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor", "BitwiseNot": "bitwise_not"}

# The harness's argument specs (fuzzer/core/runtime.py, arg_specs) for 0.25's buffer_map and its ffi.
SPECS_NOW = '''    is_buffer = [type(p.ty).__name__ == "BufferType" for p in func.params]
    shapes = {i: tuple(concrete(d) for d in p.shape) for i, p in enumerate(func.params) if is_buffer[i]}
    sized = {v.name for v in bound}
    return [ArgSpec(p.name, str(p.dtype), shapes[i]) if is_buffer[i]
            else ArgSpec(p.name, "handle", None) if type(p.ty).__name__ == "PointerType"
            else ArgSpec(p.name, str(p.ty.dtype), None, sym_value if p.name in sized else None)
            for i, p in enumerate(func.params)]'''
SPECS_0_25 = '''    bufs = {i: func.buffer_map[p] for i, p in enumerate(func.params) if p in func.buffer_map}
    shapes = {i: tuple(concrete(d) for d in b.shape) for i, b in bufs.items()}
    sized = {v.name for v in bound}
    return [ArgSpec(bufs[i].name, str(bufs[i].dtype), shapes[i]) if i in bufs
            else ArgSpec(p.name, "handle", None) if str(p.dtype) == "handle"
            else ArgSpec(p.name, str(p.dtype), None, sym_value if p.name in sized else None)
            for i, p in enumerate(func.params)]'''
WALK_NOW = "tvm_ffi.structural_walk(dim, (tvm.tirx.Var, free.append))"
WALK_0_25 = ("tvm.tirx.stmt_functor.post_order_visit(dim, lambda n: free.append(n) "
             "if isinstance(n, tvm.tirx.Var) else None)")
PARAMS_NOW = 'for p in mod["main"].params]'
PARAMS_0_25 = 'for p in map(mod["main"].buffer_map.__getitem__, mod["main"].params)]'

RULES: tuple[Rule, ...] = (
    Rule("0.27.0", "tvm.sym -> tvm.arith", _sub(r"\btvm\.sym\.", "tvm.arith.")),
    Rule("0.27.0", "s_tir.transform.StmtSimplify/ConvertSSA -> tirx.transform (one pass for both IR forms)",
         _sub(r"\bs_tir\.transform\.(StmtSimplify|ConvertSSA)\b", r"tirx.transform.\1")),
    Rule("0.27.0", "PassContext key tirx.s_tir.ldg32 -> tirx.ptx.ldg32", _replace("tirx.s_tir.ldg32", "tirx.ptx.ldg32")),
    *(Rule("0.27.0", f"T.{node} -> T.{call}", _sub(rf"\bT\.{node}\(", f"T.{call}("), same_ir=False)
      for node, call in BITWISE.items()),
    Rule("0.26.0", "argument specs from func.buffer_map", _replace(SPECS_NOW, SPECS_0_25)),
    Rule("0.26.0", "tvm_ffi.structural_walk -> tvm.tirx.stmt_functor.post_order_visit", _replace(WALK_NOW, WALK_0_25)),
    Rule("0.26.0", "run arguments from func.buffer_map", _replace(PARAMS_NOW, PARAMS_0_25)),
)

# (release before which it cannot be helped, pattern in the reproducer, why)
CANNOT: tuple[tuple[str, str, str], ...] = (
    ("0.26.0", r'T\.Buffer\(\(\s*"[A-Za-z_]\w*"',
     "the TVMScript declares a symbolic shape in a parameter (T.Buffer((\"n\", ...))), which the parser of "
     "{version} refuses (it wants T.handle and T.match_buffer)"),
)

# Where the IR has been parsed: the short scripts' first statement after the imports, the harness's main().
PARSE_LINE = re.compile(r'^([ \t]*)mod = (?:tvm\.IRModule\(\{"main": )?(?:tvm\.script\.from_source|parse)\(IR\b.*$',
                        re.M)


@dataclass
class Adapted:
    """A reproducer made ready for one release: its text, what was rewritten, or why it cannot run."""

    version: str
    text: str
    changes: list[str] = field(default_factory=list)
    cannot: str | None = None
    other_ir: list[str] = field(default_factory=list)   # the changes after which the IR is not the same

    def unsure(self) -> str | None:
        """Why a run that did not show the bug says nothing (the IR was rewritten to other IR), or None."""
        if not self.other_ir:
            return None
        used = ", ".join(w.split(" -> ")[0] for w in self.other_ir)
        instead = ", ".join(w.split(" -> ")[1] for w in self.other_ir)
        return (f"the TVMScript uses {used}, which {self.version} lacks ({instead} there folds constant operands: "
                "another program, which does not show the bug)")


def cannot_run(text: str, version: str) -> str | None:
    """Why `version` cannot run this reproducer whatever is rewritten, or None."""
    for until, pattern, why in CANNOT:
        if version_key(version) < version_key(until) and re.search(pattern, text):
            return why.format(version=version)
    return None


def adapt(text: str, version: str) -> Adapted:
    """The reproducer rewritten for `version`, with PARSED_MARK printed once its IR parsed."""
    out = Adapted(version, text, cannot=cannot_run(text, version))
    for rule in RULES:
        if version_key(version) < version_key(rule.until):
            new, n = rule.apply(out.text)
            if n:
                out.text = new
                out.changes.append(rule.what)
                if not rule.same_ir:
                    out.other_ir.append(rule.what)
    out.text, n = PARSE_LINE.subn(lambda m: f'{m.group(0)}\n{m.group(1)}print("{PARSED_MARK}", flush=True)',
                                  out.text, count=1)
    if not n:
        out.cannot = out.cannot or "tirfuzz cannot find where the reproducer parses its IR"
    return out


API_ERRORS = ("AttributeError", "ImportError", "ModuleNotFoundError", "NameError")
API_ERROR = re.compile(rf"\b({'|'.join(API_ERRORS)}): ([^\n]*)")


def explain_cannot(out: str, version: str) -> str | None:
    """Why a run of an adapted reproducer says nothing about the bug (`out`: its output), or None: it
    stopped before its IR parsed, or on a name the release lacks (an AttributeError, ImportError or
    NameError: TVM reports its own failures with other types)."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception)\b", ln)]
    last = (errors or lines or [""])[-1]
    if PARSED_MARK not in out:
        missing = re.search(r"has no attribute '(\w+)'", out)
        if missing and "DiagnosticError" in out:
            return f"the TVMScript uses T.{missing.group(1)}, which {version} lacks"
        return f"it stops before its IR parsed: {last[:200]}" if last else "it stops before its IR parsed"
    api = API_ERROR.findall(out)
    if not api:
        return None
    module = re.search(r"module '([\w.]+)' has no attribute '(\w+)'", api[-1][1])
    if module:
        return f"{version} has no {module.group(1)}.{module.group(2)}"
    return f"an API {version} lacks: {api[-1][0]}: {api[-1][1][:200]}"
