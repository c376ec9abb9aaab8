"""Does TVM's own `tvm.compile` fail on an unmodified user program the way tirfuzz's build did?

A program a person wrote may be invalid (an annotation value TVM refuses, a specialization that cannot
build). When such a program, run with no passes of its own, gives a bug verdict, the same IR is built
with plain `tvm.compile(mod, target=...)` and run on the same inputs, in an executor child (the job
`STANDARD_JOB`: programs are code and may crash). If that fails the same way (same stage kind, same
exception type and first message line, or the same signal; for a miscompilation, tvm.compile for that
target and for llvm disagree on the same buffer), the result says so: "also fails in TVM's standard
build: the input may be invalid". The verdict stays a bug, labelled; the label is in
`result.oracle["standard_build"]` and leads the bug report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.runtime import compare_outputs, device_for, entry_functions, make_target, parse, run_functions
from tirfuzz.fuzzer.core.targets import runnable_here
from tirfuzz.fuzzer.core.tvmapi import default_pipeline

STANDARD_JOB = ("standard-build", "tirfuzz.oracles.standard:standard_build_job")  # for ExecutorConfig.jobs
LABEL = "also fails in TVM's standard build: the input may be invalid"
CHECKED = ("crash", "internal-error", "hang", "miscompilation")  # bug outcomes the check applies to
MADE_BY_TIRFUZZ = ("history", "ub_risks", "generated", "libfuzzer")  # case.extra keys of mutated/made IR


@dataclass
class StandardBuild:
    """What `tvm.compile` of the program did for one target: where it stopped and how."""

    target: str
    stage: str                       # "build", "run", or "done" when it built and ran
    fails: bool = False              # it failed the way tirfuzz's build did
    how: str = ""                    # one line: what tvm.compile did
    exc_type: str | None = None
    message: str = ""
    signal: str | None = None
    resource: str | None = None      # "time" or "memory" when it ran past a limit


def is_user_program(case: TestCase) -> bool:
    """An unmodified program: no passes of its own (or exactly TVM's default pipeline), the default pass
    config, and IR that no mutation, reduction or generator made."""
    own_passes = bool(case.passes) and case.passes != default_pipeline()
    return not own_passes and not case.pass_config and not any(k in case.extra for k in MADE_BY_TIRFUZZ)


def applies(case: TestCase, res: ExecResult) -> bool:
    """Whether the standard-build check is asked for: a user program whose outcome is a checked bug."""
    return res.outcome in CHECKED and is_user_program(case)


def standard_build_job(case: TestCase, spec: dict[str, Any], pool: Any) -> tuple[None, dict[str, Any]]:
    """Executor child job: `tvm.compile` the case's IR for spec["target"] and, with spec["run"], run it on
    the case's inputs. Never yields a case to run; the record is info["standard"]."""
    import tvm

    target, stage = str(spec["target"]), "build"
    rec: dict[str, Any] = {"stage": "done"}
    try:
        mod = parse(case.ir)
        rt = tvm.compile(mod, target=make_target(target))
        if spec.get("run", True) and runnable_here(target):
            stage = "run"
            funcs = entry_functions(mod)
            compiled = {name: rt[name] for name in funcs}
            rec["outputs"] = run_functions(compiled, funcs, case.input_seed, device_for(target))
    except Exception as e:  # noqa: BLE001  (TVM's refusal is the record)
        rec = {"stage": stage, "exc_type": type(e).__name__, "message": _first_line(str(e))}
    return None, {"reason": "standard build checked", "standard": rec}


def stage_kind(stage: str) -> str:
    """"build" for parse, passes, codegen and the reference build; "run" for running compiled code."""
    return "run" if stage.startswith(("run:", "oracle:")) else "build"


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0][:500] if lines else ""


def _observe(run_job: Callable[[dict[str, Any]], ExecResult], target: str) -> dict[str, Any]:
    """What tvm.compile did, as a record; a crash or hang is located by building again without running."""
    r = run_job({"job": STANDARD_JOB[0], "target": target, "run": True})
    if r.outcome == "declined" and isinstance(r.mutation.get("standard"), dict):
        return r.mutation["standard"]
    if r.outcome not in ("crash", "hang"):
        return {"stage": "error", "message": _first_line(r.message), "exc_type": r.exc_type}
    died = {"signal": r.signal, "resource": r.resource, "message": _first_line(r.message), "kind": r.outcome}
    again = run_job({"job": STANDARD_JOB[0], "target": target, "run": False})
    built = again.outcome == "declined" and (again.mutation.get("standard") or {}).get("stage") == "done"
    return {**died, "stage": "run" if built else "build"}


def check(run_job: Callable[[dict[str, Any]], ExecResult], case: TestCase, res: ExecResult) -> StandardBuild:
    """Build and run the case's program with tvm.compile for the failing target (run_job runs a job spec
    on the case in an executor child) and say whether it fails as `res` did."""
    target = res.target or res.oracle.get("target") or case.targets[0]
    if res.stage.endswith(":reference"):
        target = "llvm"  # the reference build is TVM's default pipeline for llvm
    seen = _observe(run_job, target)
    std = StandardBuild(target, seen.get("stage", "error"), exc_type=seen.get("exc_type"),
                        message=seen.get("message", ""), signal=seen.get("signal"), resource=seen.get("resource"))
    kind = stage_kind(res.stage)
    if std.stage == "done":
        std.how = f"tvm.compile(target {target}) builds" + (" and runs" if "outputs" in seen else "")
        if res.outcome == "miscompilation" and "outputs" in seen:
            _compare_standard_builds(run_job, res, std, seen["outputs"])
        return std
    if std.stage == "error":
        std.how = f"the check itself did not finish: {std.message}"
        return std
    what = (f"is killed by {std.signal}" if std.signal else f"runs past the {std.resource or 'time'} limit"
            if std.resource or seen.get("kind") == "hang" else f"raises {std.exc_type}: {std.message}")
    std.how = f"tvm.compile(target {target}) {'building' if std.stage == 'build' else 'running'}: {what}"
    if std.stage != kind:
        return std
    if res.outcome == "crash":
        std.fails = bool(std.signal) and std.signal == res.signal
    elif res.outcome == "hang":
        std.fails = seen.get("kind") == "hang"
    elif res.outcome == "internal-error":
        std.fails = std.exc_type == res.exc_type and std.message == _first_line(res.message)
    return std


def _compare_standard_builds(run_job: Callable[[dict[str, Any]], ExecResult], res: ExecResult, std: StandardBuild,
                             outputs: dict[str, list]) -> None:
    """For a miscompilation: whether TVM's own builds for the target and for llvm (the reference's target)
    disagree too, on the buffer where tirfuzz's build and the reference did."""
    if std.target == "llvm":
        std.how += ", and tvm.compile for llvm is the reference's own target: nothing to compare it with"
        return
    ref = run_job({"job": STANDARD_JOB[0], "target": "llvm", "run": True})
    ref_outputs = (ref.mutation.get("standard") or {}).get("outputs") if ref.outcome == "declined" else None
    if ref_outputs is None:
        std.how += ", but tvm.compile(target llvm) did not run, so there is nothing to compare with"
        return
    family = res.oracle.get("family") or "arith"
    diff = compare_outputs(ref_outputs, outputs, "arith" if family == "fast-math" else family)
    seen = res.oracle.get("diff") or {}
    if diff is None:
        std.how += ", and computes what tvm.compile(target llvm) computes"
        return
    std.fails = (diff.func, diff.buffer) == (seen.get("func"), seen.get("buffer"))
    std.how += (f", and it disagrees with tvm.compile(target llvm) too ({diff}; undefined behaviour in the program, "
                f"or a bug in TVM's own {std.target} build)")


def record(std: StandardBuild) -> dict[str, Any]:
    """The JSON-safe record kept in result.oracle["standard_build"]."""
    return {k: v for k, v in asdict(std).items() if v not in (None, "")}


def same_failure(oracle: dict[str, Any]) -> dict[str, Any] | None:
    """The standard-build record of a result's oracle records when it failed the same way, else None."""
    std = oracle.get("standard_build") if isinstance(oracle, dict) else None
    return std if isinstance(std, dict) and std.get("fails") else None


def to_label(oracle: dict[str, Any]) -> str | None:
    """The line to lead with when the standard build fails the same way, else None."""
    std = same_failure(oracle)
    return f"{LABEL} ({std.get('how')})" if std is not None else None



def annotate(executor: Any, case: TestCase, res: ExecResult) -> StandardBuild | None:
    """When the check applies, run it through `executor` (an Executor whose config lists STANDARD_JOB) and
    keep its record in res.oracle["standard_build"]; the record, or None."""
    if not applies(case, res):
        return None
    std = check(lambda spec: executor.run(case, want_outputs=False, mutate=spec), case, res)
    res.oracle["standard_build"] = record(std)
    return std
