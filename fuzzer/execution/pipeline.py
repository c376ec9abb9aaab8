"""Run one case in the current process: parse, pre-check, passes, build and run for each target.

This is what an executor child does; `bench/executor.py` also calls it directly to measure the
executor's own cost. Parsing TVMScript evaluates Python, so only isolated processes call this.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.crashinfo import frames_from_exception, raised_outside_tvm, top_frame
from tirfuzz.fuzzer.core.passes import PRECONDITIONS, PassError, PassPool
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.hostcc import PendingLoad
from tirfuzz.fuzzer.core.runtime import (ToolError, bind_target, codegen, completion_passes, device_for, kind_of,
                                         lower, lowering_sequence, make_args)
from tirfuzz.fuzzer.core.targets import TargetError, check_target, nvcc_present, runnable_here
from tirfuzz.fuzzer.core.tvmapi import (DEVICE_MODULES, blocks, cuda_to_ptx, default_pipeline, entry_functions,
                                        has_blocks, loaded, parse, precheck, run_funcs, target_needs, unmet_needs,
                                        with_device_modules)
from tirfuzz.fuzzer.tir.features import pass_features as pass_features_of, structure_features
from tirfuzz.oracles import DEFAULT_ORACLES
from tirfuzz.oracles.base import BUILT, PARSED, Oracle, OracleContext
from tirfuzz.oracles.differential import explain_by_checks
from tirfuzz.oracles.ub import explain_arithmetic_error, program_arithmetic_error
from tirfuzz.oracles.filters import FILTERS, classify_error


class StageFailure(Exception):
    """An exception raised while a stage ran, with the stage and target it belongs to."""

    def __init__(self, stage: str, target: str | None, exc: BaseException):
        super().__init__(str(exc))
        self.stage, self.target, self.exc = stage, target, exc
        self.unmet: list[str] = []  # documented preconditions the module did not meet


def _unmet_preconditions(name: str, mod, packed: bool) -> list[str]:
    """Which of the pass's documented preconditions the module it was given does not meet."""
    needs = PRECONDITIONS.get(name.rpartition(".")[2], ())
    unmet = []
    if "block-free" in needs and has_blocks(mod):
        unmet.append("block-free")
    if "packed-api" in needs and not packed:
        unmet.append("packed-api")
    if "opaque-blocks" in needs and any(len(b.iter_values) for b in blocks(mod)):
        unmet.append("opaque-blocks")
    if "no-block-init" in needs and any(b.block.init is not None for b in blocks(mod)):
        unmet.append("no-block-init")
    if "schedulable-blocks" in needs and not has_blocks(mod):
        unmet.append("schedulable-blocks")
    return unmet


class _Stages:
    """Tracks the current stage, reports it, and times it."""

    def __init__(self, on_stage: Callable[[str, str | None], None] | None, result: ExecResult):
        self.on_stage, self.result = on_stage, result

    def run(self, stage: str, target: str | None, fn: Callable[[], Any], timing_key: str | None = None) -> Any:
        self.result.stage, self.result.target = stage, target
        if self.on_stage is not None:
            self.on_stage(stage, target)
        t0 = time.perf_counter()
        try:
            return fn()
        except Exception as e:
            raise StageFailure(stage, target, e) from e
        finally:
            key = timing_key or (f"{stage.split(':')[0]}@{target}" if target else stage)
            self.result.timings_ms[key] = self.result.timings_ms.get(key, 0.0) + (time.perf_counter() - t0) * 1e3


def run_case(case: TestCase, pool: PassPool, on_stage: Callable[[str, str | None], None] | None = None,
             want_outputs: bool = True, oracle: bool = False, filters: tuple = FILTERS,
             want_json: bool = False, oracles: Sequence[Oracle] = DEFAULT_ORACLES, check: bool = False,
             host_cc: Any = None, module: Any = None, pass_features: bool = False) -> ExecResult:
    """Execute every stage of the case and return what happened; never raises for TVM's errors.

    With `oracle`, each of `oracles` runs at its point (oracles/base.py): by default the TVMScript round
    trip after parsing, and after the builds every build that ran compared with TVM's default pipeline for
    llvm (oracles/differential.py): outcomes `roundtrip` and `miscompilation`.
    With `want_json`, `result.ir_json` is the parsed module in TVM's JSON (loading it is ten times
    cheaper than parsing the TVMScript again when the case is mutated next).
    With `check`, only the checked run (oracles/ub.py) on the case's inputs, nothing else: its record is
    `result.oracle["checked"]` (what a crash once compiled code ran is judged by).
    `host_cc` (fuzzer.core.hostcc.HostCompiler) makes the C backend's host compiler cheaper, same output.
    `module`: the case's IRModule as a mutator made it (the case's text is its print): run as it is, not
    parsed from the text (`result.ran_module`); only without oracles, whose round trip is that parse.
    With `pass_features`, `result.pass_features` has the (pass, feature) pairs of the case's passes that
    changed the module, for its first target (fuzzer/tir/features.py; a campaign's structure feedback).
    """
    result = ExecResult(outcome="ok")
    stages = _Stages(on_stage, result)
    t0 = time.perf_counter()
    try:
        if check:
            _run_checked(case, stages, result)
        else:
            _run_stages(case, pool, stages, result, want_outputs, oracles if oracle else (), want_json, filters,
                        host_cc, None if oracle else module, pass_features)
        if result.outcome == "ok":
            result.stage, result.target = "done", None
    except StageFailure as f:
        _record_failure(result, f, filters)
        if result.outcome == "internal-error" and oracle and program_arithmetic_error(result.message):
            _blame_program(case, result)
    # The case's work between its stages (inputs, output comparisons, results): its own cost, timed too.
    staged = sum(v for k, v in result.timings_ms.items() if not k.startswith("pass:"))
    result.timings_ms["unstaged"] = max(0.0, (time.perf_counter() - t0) * 1e3 - staged)
    return result


def _blame_program(case: TestCase, result: ExecResult) -> None:
    """An internal error about a literal out of range or a division by zero: check whether the program's
    own arithmetic causes it (oracles/ub.py), recorded in `result.oracle["program_error"]`."""
    try:
        mod = parse(case.ir)
        found = explain_arithmetic_error(mod, result.message, lambda f, n: make_args(f, case.input_seed, n),
                                         default_pipeline())
    except Exception as e:  # noqa: BLE001  (the check failing explains nothing: the error stays a bug)
        found = {"filter": None, "error": f"{type(e).__name__}: {str(e)[:200]}"}
    if found is not None:
        result.oracle["program_error"] = found


def compiler(mod, case: TestCase, pool: PassPool, builds: "BuildCache | None" = None,
             host_cc: Any = None) -> Callable[..., Any]:
    """A function (target, pass specs) -> runnable functions: the specs, then the completion passes they
    do not name, then the build; under the case's pass config, or `config` (the reference passes {}).
    With lower_only, the module after BindTarget and the specs alone, not built.
    A lowered module already built in this case (`builds`) is not built again: its functions are reused."""
    funcs = list(entry_functions(mod))

    def make_pass(name: str, args) -> Any:
        return pool.instantiate(PassSpec(name, tuple(args)))

    def compile_with(target: str, specs: list, config: dict | None = None, lower_only: bool = False) -> Any:
        import tvm

        cfg = case.pass_config if config is None else config
        if lower_only:  # the module after BindTarget and the specs alone (what a pass of them changed)
            with tvm.transform.PassContext(opt_level=3, config=cfg):
                m, _ = bind_target(mod, target)
                for s in specs:
                    m = make_pass(s.name, s.args)(m)
                return m
        with tvm.transform.PassContext(opt_level=3, config=cfg):
            m, tgt = lower(mod, target, [(s.name, s.args) for s in specs], make_pass)
            if builds is not None and (hit := builds.get(target, cfg, m)) is not None:
                return hit
            built = loaded(codegen(m, tgt), funcs, host_cc, target)
        if builds is not None:
            builds.put(target, cfg, m, built)
        return built
    return compile_with


class BuildCache:
    """The builds of one case by (target, pass config, lowered module): a build whose lowered module is
    structurally equal to one built before in the case (the reference, when the case's own sequence
    lowers to the same module; a culprit-search prefix that equals the whole sequence) reuses its
    runnable functions instead of generating and compiling the same code again. `hits` counts reuses."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, int], list[tuple[Any, dict[str, Any]]]] = {}
        self.hits = 0

    @staticmethod
    def _key(target: str, config: dict, lowered) -> tuple[str, str, int]:
        import tvm_ffi

        return target, json.dumps(config, sort_keys=True, default=str), int(tvm_ffi.structural_hash(lowered))

    def get(self, target: str, config: dict, lowered) -> dict[str, Any] | None:
        import tvm_ffi

        for m, built in self.entries.get(self._key(target, config, lowered), ()):
            if tvm_ffi.structural_equal(m, lowered):  # the hash found it; equality decides
                self.hits += 1
                return built
        return None

    def put(self, target: str, config: dict, lowered, built: dict[str, Any]) -> None:
        self.entries.setdefault(self._key(target, config, lowered), []).append((lowered, built))


def _run_stages(case: TestCase, pool: PassPool, stages: _Stages, result: ExecResult, want_outputs: bool,
                oracles: Sequence[Oracle] = (), want_json: bool = False, filters: tuple = FILTERS,
                host_cc: Any = None, module: Any = None, pass_features: bool = False) -> None:
    def check_inputs():
        for t in case.targets:
            check_target(t)
        return [pool.instantiate(s) for s in case.passes]

    passes = stages.run("setup", None, check_inputs)
    if module is not None:
        mod, result.ran_module = module, True
    else:
        mod = stages.run("parse", None, lambda: parse(case.ir))
    stages.run("precheck", None, lambda: precheck(mod))
    spare = _Spare()
    if want_json:
        spare.add(lambda: _save_json(result, mod))
    try:
        _build_and_judge(case, pool, stages, result, want_outputs, oracles, filters, host_cc, pass_features, mod,
                         passes, spare)
    finally:
        spare.run()


def _save_json(result: ExecResult, mod) -> None:
    """The parsed module in TVM's JSON (None when TVM cannot save it: the next mutation parses the text)."""
    import tvm

    try:
        result.ir_json = tvm.ir.save_json(mod)
    except Exception:  # noqa: BLE001  (a cache for the next mutation, never a verdict)
        result.ir_json = None


class _Spare:
    """Work whose answer only goes in the result (the module's JSON, the passes' features): done while the
    host compiler builds a C target, if the case has one (its child would wait for it anyway), else at the
    case's end."""

    def __init__(self):
        self.jobs: list[Callable[[], None]] = []

    def add(self, job: Callable[[], None]) -> None:
        self.jobs.append(job)

    def run(self) -> None:
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            job()


def _build_and_judge(case: TestCase, pool: PassPool, stages: _Stages, result: ExecResult, want_outputs: bool,
                     oracles: Sequence[Oracle], filters: tuple, host_cc: Any, pass_features: bool, mod, passes: list,
                     spare: _Spare) -> None:
    """The parsed case's oracles, its targets' lowering, builds and runs, the built case's oracles."""
    funcs = entry_functions(mod)
    cache = BuildCache()
    seen = OracleContext(case, mod, funcs, stages.run, compiler(mod, case, pool, cache, host_cc) if oracles else None)
    if _run_oracles(oracles, PARSED, seen, result):
        return
    builds: dict[str, tuple[Any, Any, dict]] = {}
    result.completion = completion_passes([s.name for s in case.passes])
    targets = stages.run("targets", None, lambda: _targets_that_can_build(case, mod, result))
    names = list(funcs)
    lowered: dict[str, Any] = {}  # target -> (PassContext, lowered module, Target), or its StageFailure
    featured = targets[0] if pass_features else None  # the target whose passes' features are recorded
    started: dict[str, _Started] = {}
    try:
        # Every target's passes first, in the case's order (stopping at a failure, as building one target
        # after another would); then the C targets' code is generated and g++ started, so it runs while
        # the others build. A failure waits its target's turn: verdicts come in the case's order.
        if len(targets) > 1 and any(kind_of(t) == "c" for t in targets):
            for target in targets:
                try:
                    lowered[target] = _lower_target(case, pool, passes, mod, target, stages, result,
                                                    spare if target == featured else None)
                except StageFailure as f:
                    lowered[target] = f
                    break
            for target in targets:
                low = lowered.get(target)
                if kind_of(target) == "c" and isinstance(low, tuple):
                    try:
                        started[target] = _generate(target, low, names, stages, host_cc)
                    except StageFailure as f:
                        lowered[target] = f
        for target in targets:
            try:
                low = lowered.get(target) or _lower_target(case, pool, passes, mod, target, stages, result,
                                                           spare if target == featured else None)
                if isinstance(low, StageFailure):
                    raise low
                s = started.get(target) or _generate(target, low, names, stages, host_cc)
                started[target] = s
                built = _finish_target(case, s, funcs, stages, result, cache, spare)
            except StageFailure as f:
                gap = backend_gap(f, filters)
                if gap is None or len(result.dropped) + 1 == len(case.targets):  # a bug, or no target left
                    raise
                result.dropped[target] = gap  # a known gap of this backend: the case goes on with the others
                continue
            if built is not None:
                builds[target] = built
                if want_outputs:
                    result.outputs[target] = built[2]
    finally:
        for s in started.values():
            s.pending.abandon()
    try:
        _run_oracles(oracles, BUILT, replace(seen, builds=builds), result)
    finally:
        result.builds_reused = cache.hits


def _run_checked(case: TestCase, stages: _Stages, result: ExecResult) -> None:
    mod = stages.run("parse", None, lambda: parse(case.ir))
    stages.run("precheck", None, lambda: precheck(mod))
    result.oracle["checked"] = explain_by_checks(case, mod, entry_functions(mod), case.input_seed, 0,
                                                 default_pipeline(), stages.run)


class InputRefused(ValueError):
    """A program no target of the case can build (it needs a GPU, or scalable vectors: tvmapi.target_needs),
    or with nothing to call (every function private): refused before any build, under a named filter."""

    def __init__(self, filter_name: str, message: str):
        super().__init__(message)
        self.filter = filter_name


def _targets_that_can_build(case: TestCase, mod, result: ExecResult) -> list[str]:
    """The case's targets that can build what the program needs; the others drop out (result.dropped)."""
    if not entry_functions(mod):
        raise InputRefused("no-entry-function", "every PrimFunc of the module is private (no global_symbol): "
                           "there is nothing to call, and TVM's build refuses such a module too")
    needs = target_needs(mod)
    kept = []
    for t in dict.fromkeys(case.targets):  # a target named twice is built once
        unmet = unmet_needs(needs, t)
        if unmet is None:
            kept.append(t)
        else:
            result.dropped[t] = unmet[0]
    if not kept:
        gap, where = unmet_needs(needs, case.targets[0]) or ("?", "")
        raise InputRefused(gap, f"the program {where}: no target of the case ({', '.join(case.targets)}) can "
                              "build it (TVM's own build for these targets refuses it too)")
    return kept


def backend_gap(f: StageFailure, filters: tuple = FILTERS) -> str | None:
    """The name of the target-specific filter (a known gap of that backend) that explains a failure, or None."""
    if f.unmet or not f.target or not f.stage.startswith(("pass:", "build:", "run:", "ptx:")):
        return None
    flt = classify_error(f.stage, f.target, type(f.exc).__name__, str(f.exc).strip(), filters)
    return flt.name if flt is not None and flt.target is not None else None


@dataclass
class _Started:
    """A target lowered and its code generated, its load under way (the host compiler, for C)."""

    target: str
    ctx: Any                # the case's PassContext
    lowered: Any            # the module after the case's passes and the completion
    raw: Any                # the generated runtime module
    pending: PendingLoad


def _lower_target(case: TestCase, pool: PassPool, passes: list, mod, target: str, stages: _Stages,
                  result: ExecResult, features: _Spare | None = None) -> tuple[Any, Any, Any]:
    """Bind the target, run the case's passes and the completion: (PassContext, lowered module, Target).
    With `features`, the (pass, feature) pairs of the case's passes that changed the module go to
    `result.pass_features` (statement features only: a few ms a case), as spare work."""
    import tvm
    import tvm_ffi

    ctx = stages.run("config", None, lambda: tvm.transform.PassContext(opt_level=3, config=case.pass_config))
    with ctx:
        m, tgt = bind_target(mod, target)
        changed, packed = [], False
        sequence = lowering_sequence(target, [(s.name, s.args) for s in case.passes])
        result.completion += [n for n, _, added in sequence if added and n not in result.completion]
        own = iter(passes)
        pairs: list[tuple[str, Any, Any]] = []  # the case's passes that changed the module: (name, before, after)
        if features is not None:
            features.add(lambda: _record_pass_features(result, pairs))
        for name, args, added in sequence:
            p = pool.instantiate(PassSpec(name, args)) if added else next(own)
            kind = "completion" if added else "passes"
            before = tvm_ffi.structural_hash(m)
            try:
                m_next = stages.run(f"pass:{name}", target, lambda p=p, m=m: p(m), f"{kind}@{target}")
            except StageFailure as f:
                f.unmet = _unmet_preconditions(name, m, packed)
                raise
            if not added:
                changed.append(tvm_ffi.structural_hash(m_next) != before)
                if features is not None and changed[-1]:
                    pairs.append((name, m, m_next))
            packed = packed or name.endswith(".MakePackedAPI")
            m = m_next
            result.pass_changed[target] = changed
    return ctx, m, tgt


def _record_pass_features(result: ExecResult, pairs: list[tuple[str, Any, Any]]) -> None:
    """Add each pass's (pass, feature) pairs to the result, in order (a pass whose features could not be
    computed adds none: feedback only, never a verdict)."""
    shown = None  # the statement features of the module the next pass was given, when known
    for name, before, after in pairs:
        try:
            shown = shown if shown is not None else structure_features(before, exprs=False)
            out = structure_features(after, exprs=False)
        except Exception:  # noqa: BLE001  (a module the features walk does not know: no pairs for this pass)
            shown = None
            continue
        result.pass_features.extend(sorted(pass_features_of(name, shown, out)))
        shown = out


def _generate(target: str, low: tuple[Any, Any, Any], names: list[str], stages: _Stages,
              host_cc: Any = None) -> _Started:
    """Generate a lowered target's code and start loading it (g++ in the background, for C)."""
    ctx, m, tgt = low

    def generate():
        raw = codegen(m, tgt)
        return raw, PendingLoad(raw, names, host_cc, target)
    with ctx:
        raw, pending = stages.run(f"build:{target}", target, generate)
    return _Started(target, ctx, m, raw, pending)


def _finish_target(case: TestCase, s: _Started, funcs: dict[str, Any], stages: _Stages, result: ExecResult,
                   cache: BuildCache | None = None, spare: _Spare | None = None) -> tuple[Any, Any, dict] | None:
    """Finish loading a started target and run it on this machine when it can: (runnable functions, device,
    outputs), or None for a target built but not runnable here. The spare work is done first when the host
    compiler is still building this target: the case would only wait for it."""
    target = s.target
    if spare is not None and s.pending.proc is not None and s.pending.proc.poll() is None:
        spare.run()
    with s.ctx:
        rt = stages.run(f"build:{target}", target, lambda: with_device_modules(s.raw, s.pending.finish()))
    if cache is not None:
        cache.put(target, case.pass_config, s.lowered, rt)
    if not runnable_here(target):  # no GPU, or an -mcpu/+feature this CPU lacks: built, not run
        result.skipped_runs.append(target)
        if rt.get(DEVICE_MODULES) and nvcc_present():
            stages.run(f"ptx:{target}", target, lambda rt=rt: cuda_to_ptx(rt[DEVICE_MODULES], target))
        return None
    device = device_for(target)
    outs = stages.run(f"run:{target}", target, lambda rt=rt: run_funcs(rt, funcs, case.input_seed, device))
    return rt, device, outs


def _run_oracles(oracles: Sequence[Oracle], point: str, ctx: OracleContext, result: ExecResult) -> bool:
    """Run the oracles of `point` in order, keeping their records; True when one found a bug (recorded)."""
    for o in oracles:
        if o.point != point:
            continue
        try:
            found = o.check(ctx)
        except StageFailure:  # TVM's failure inside the oracle's own builds: judged like any stage's
            raise
        except Exception as e:  # noqa: BLE001  (the oracle's own code failed)
            err = ToolError(f"oracle {o.name}: {type(e).__name__}: {e}")
            err.__cause__ = e
            raise StageFailure(f"oracle:{o.name}", None, err) from e
        if found is None:
            continue
        result.oracle.update(found.record)
        if found.is_bug:
            result.outcome, result.stage, result.target = found.outcome, found.stage, found.target
            result.message, result.frame = found.message, found.frame
            return True
    return False


def _record_failure(result: ExecResult, f: StageFailure, filters: tuple = FILTERS) -> None:
    exc = f.exc
    result.stage, result.target = f.stage, f.target
    result.exc_type = type(exc).__name__
    message = str(exc).strip()
    result.message = message[:4000]
    result.frames = frames_from_exception(exc)[:20]
    result.frame = top_frame(result.frames)
    if isinstance(exc, MemoryError) or "std::bad_alloc" in message:
        result.outcome, result.resource = "hang", "memory"
        result.message = f"memory limit exceeded: {message[:500]}"
        return
    if isinstance(exc, ToolError):  # tirfuzz's own defect: said so, with its traceback, never a TVM bug
        result.outcome, result.exc_type = "tool-error", "ToolError"
        result.message = f"tirfuzz error (not a TVM bug): {message}\n" + "".join(
            traceback.format_exception(exc.__cause__ or exc))[-3000:]
        print(result.message, file=sys.stderr)
        return
    if f.stage == "setup":
        result.outcome = "rejected"
        result.filter = "unknown-target" if isinstance(exc, TargetError) else \
            "unknown-pass" if isinstance(exc, PassError) else "bad-pass-arguments"
        return
    if f.stage == "parse":
        result.outcome, result.filter = "rejected", "unparseable-tvmscript"
        return
    if isinstance(exc, InputRefused):
        result.outcome, result.filter = "rejected", exc.filter
        return
    if f.stage == "precheck":
        result.outcome, result.filter = "rejected", "ill-formed"
        return
    if f.stage == "config":
        result.outcome, result.filter = "rejected", "bad-pass-config"
        return
    if f.unmet:
        result.outcome, result.filter = "rejected", "precondition:" + ",".join(f.unmet)
        return
    flt = classify_error(f.stage, f.target, result.exc_type, message, filters)
    if flt is not None:  # a named filter first: tirfuzz's own refusals (inputs-too-large, ...) are named there
        result.outcome, result.filter = "rejected", flt.name
        return
    where = raised_outside_tvm(exc)
    if where is not None:  # not TVM's error: tirfuzz's own code (or numpy under it) failed; never a TVM bug
        own = f"{f.stage.split(':')[0]}@{f.target}"
        ran = [k.replace("@", ":") for k in result.timings_ms if k.startswith("run@") and k != own]
        result.outcome, result.exc_type = "tool-error", "ToolError"
        result.message = (f"tirfuzz error (not a TVM bug): {type(exc).__name__}: {message} (raised at {where}, "
                          f"stage {f.stage}" + (f"; compiled code of this case ran before it ({', '.join(ran)}): "
                                                "a wild write of it may be the cause" if ran else "") + ")")[:4000]
        return
    result.outcome = "internal-error"
