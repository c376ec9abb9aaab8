"""The `tirfuzz` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tirfuzz.fuzzer.core.case import CaseError, PassSpec, TestCase, load_case
from tirfuzz.fuzzer.execution.executor import ExecutorConfig
from tirfuzz.fuzzer.core.targets import TargetError, check_target
from tirfuzz.oracles.filters import FilterError, load_filters
from tirfuzz.fuzzer.core.passes import PassError, PassPool
from tirfuzz.fuzzer.core.passes import PassError
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorError
from rich.progress import Progress
from tirfuzz.corpus import list_seeds
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.execution.executor import Executor
from tirfuzz import __version__
from tirfuzz.fuzzer.core.targets import cuda_device_present
from tirfuzz.fuzzer.execution.coverage import coverage_info_lines, find_sites
from tirfuzz.corpus import load_seed
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.campaign.campaign import parse_duration
from tirfuzz.fuzzer.campaign.campaign import Campaign, CampaignConfig, config_record
from tirfuzz.fuzzer.campaign.store import CampaignDir, StoreError
from tirfuzz.fuzzer.execution.executor import ExecutorError
from tirfuzz.reports.triage import Triage
from tirfuzz.fuzzer.core.case import save_case
from tirfuzz.fuzzer.tir.reduce import REDUCE_JOB
from tirfuzz.reports.minimize import Minimizer
from tirfuzz.reports.minimize import signature_of
from tirfuzz.reports.summary import write_reports
import os
import time as _t
from tirfuzz.fuzzer.core.case import load_case as _load
from tirfuzz.reports.ci import Baseline, BaselineError, judge, junit_xml, replay_baseline, step_summary, updated_baseline
from tirfuzz.fuzzer.core.case import read_cases
from tirfuzz.fuzzer.campaign.distill import minimize_corpus, write_corpus
from tirfuzz.fuzzer.campaign.parallel import ParallelRunner
from tirfuzz.fuzzer.campaign.ray_workers import RayPool, RayUnavailable, connect
from tirfuzz.fuzzer.campaign.parallel import WorkerLost
from tirfuzz.fuzzer.campaign.ray_workers import RayUnavailable
from tirfuzz.fuzzer.campaign.status import StatusScreen
from tirfuzz.fuzzer.campaign.store import StoreError
from tirfuzz.corpus.generate import regenerate
from tirfuzz.fuzzer.baselines.generate import GenerateCampaign as Campaign
from tirfuzz.fuzzer.campaign.parallel import ParallelRunner, local_workers

console = Console(width=None if sys.stdout.isatty() else 160)  # piped output: do not truncate names
err_console = Console(stderr=True)


class Fail(click.ClickException):
    """A one-line error about the user's input or environment; exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.secho("error: ", fg="red", bold=True, err=True, nl=False)
        click.echo(" ".join(self.message.split()), err=True)  # always exactly one line


def _executor_config(timeout: float, memory_mb: int, plugins: tuple[str, ...], coverage: str | None = None,
                     filters: tuple[str, ...] = (), jobs: tuple = ()):
    return ExecutorConfig(timeout_s=timeout, memory_mb=memory_mb, plugins=tuple(plugins), coverage=coverage,
                          filters=tuple(filters), jobs=jobs)


def _targets(text: str) -> list[str]:
    """The comma-separated targets of an option, each checked (an unknown one: one line, exit 2)."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    try:
        for t in names:
            check_target(t)
    except TargetError as e:
        raise Fail(str(e)) from None
    return names


def _check_filters(filters: tuple[str, ...]) -> list[str]:
    """Absolute paths of extra filters files, each loaded once here (a bad one: one line, exit 2)."""
    try:
        load_filters(filters)
    except FilterError as e:
        raise Fail(str(e)) from None
    return [str(Path(f).resolve()) for f in filters]


FILTERS_HELP = "Extra known-false-alarm filters (TOML, the format of oracles/filters.toml); repeatable."


def _pool(plugins: tuple[str, ...]):
    try:
        return PassPool(plugins)
    except PassError as e:
        raise Fail(str(e)) from None


def validate_case(case: TestCase, pool) -> None:
    """Raise Fail naming the first unknown pass or target (checked without parsing the IR)."""
    try:
        for t in case.targets:
            check_target(t)
        for p in case.passes:
            pool.check(p)
    except (PassError, TargetError) as e:
        raise Fail(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """tirfuzz: coverage-guided fuzzing and differential testing of Apache TVM's TIR.

    \b
    Start with:
      tirfuzz seeds --check        parse and build every built-in seed program
      tirfuzz run CASE.json        run one test case in an isolated child process
      tirfuzz version              versions, build flags, CUDA device
    """


@main.command()
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--timeout", default=20.0, show_default=True, help="Wall-clock limit for the case, seconds.")
@click.option("--memory-mb", default=4096, show_default=True, help="Address-space limit for the child, MiB.")
@click.option("--pass-plugin", "plugins", multiple=True, type=click.Path(dir_okay=False),
              help="Python file whose module-level Pass objects join the pool as plugin:<stem>.<name>.")
@click.option("--no-oracle", is_flag=True, help="Do not compare with the reference build or check the round trip.")
@click.option("--filters", "filters", multiple=True, type=click.Path(dir_okay=False), help=FILTERS_HELP)
def run(case_file: Path, as_json: bool, timeout: float, memory_mb: int, plugins: tuple[str, ...], no_oracle: bool,
        filters: tuple[str, ...]) -> None:
    """Run one test case (tirfuzz-case/1 JSON) and print what happened.

    The case's TVMScript is parsed only inside the isolated child (parsing evaluates Python). Every
    build that runs is compared with TVM's default pipeline for llvm on the same inputs.
    Exit code: 0 ok or rejected, 1 a bug outcome (crash, hang, internal-error, miscompilation,
    roundtrip), 2 bad input.
    """
    try:
        case = load_case(case_file)
    except CaseError as e:
        raise Fail(str(e)) from None
    validate_case(case, _pool(plugins))
    filters = _check_filters(filters)
    try:
        with Executor(_executor_config(timeout, memory_mb, plugins, filters=tuple(filters))) as ex:
            res = ex.run(case, oracle=not no_oracle)
    except ExecutorError as e:
        raise Fail(f"executor: {e}") from None
    if res.outcome == "rejected" and res.stage == "parse":
        raise Fail(f"{case_file}: the IR does not parse as TVMScript: {res.message.splitlines()[0] if res.message else ''}")
    if as_json:
        click.echo(json.dumps(res.summary()))
    else:
        _print_result(res)
    sys.exit(1 if res.is_bug else 0)


def _print_result(res) -> None:
    colour = {"ok": "green", "rejected": "yellow"}.get(res.outcome, "red")
    t = Table(show_header=False, box=None)
    t.add_row("outcome", f"[bold {colour}]{res.outcome}[/]")
    t.add_row("stage", res.stage + (f" (target {res.target})" if res.target else ""))
    for key in ("filter", "signal", "resource", "exc_type", "frame"):
        if getattr(res, key):
            t.add_row(key, str(getattr(res, key)))
    if res.oracle:
        o = res.oracle
        t.add_row("oracle", f"compared {', '.join(o.get('compared') or []) or 'nothing'} with the reference "
                  f"({o.get('family')})" + (f"; difference hidden by filter {o['filtered']}: {o['reason']}"
                                           if o.get("filtered") else ""))
    if res.message:
        t.add_row("message", res.message if len(res.message) < 600 else res.message[:600] + " ...")
    t.add_row("timings", ", ".join(f"{k} {v:.0f} ms" for k, v in res.timings_ms.items() if v >= 0.5))
    for target, funcs in res.outputs.items():
        for fname, arrays in funcs.items():
            t.add_row(f"outputs {target}", f"{fname}: " + ", ".join(f"{a.dtype}{list(a.shape)}" for a in arrays))
    console.print(t)


@main.command()
@click.option("--check", is_flag=True, help="Parse and build every seed for each target in a child; print a table.")
@click.option("--regen", is_flag=True, help="Rebuild the seed files from TVM's operator library (te/topi).")
@click.option("--targets", default="llvm,c", show_default=True, help="Targets for --check, comma-separated.")
@click.option("--json", "as_json", is_flag=True, help="With --check: one JSON object per seed.")
@click.option("--timeout", default=60.0, show_default=True, help="Per-seed limit for --check, seconds.")
def seeds(check: bool, regen: bool, targets: str, as_json: bool, timeout: float) -> None:
    """List, check or regenerate the built-in seed corpus (TVMScript files in corpus/seeds/)."""
    if regen:
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("generating seeds", total=None)
            made = regenerate(progress=lambda name: bar.update(task, advance=1, description=name))
        err_console.print(f"regenerated {len(made)} seeds")
    all_seeds = list_seeds()
    if not check:
        t = Table("name", "kind", "dtype", "op")
        for s in all_seeds:
            t.add_row(s.name, s.kind, s.dtype, s.op)
        console.print(t)
        console.print(f"{len(all_seeds)} seeds in {all_seeds[0].path.parent if all_seeds else '?'}")
        return
    target_list = [t.strip() for t in targets.split(",") if t.strip()]
    _check_seeds(all_seeds, target_list, as_json, timeout)


def _check_seeds(all_seeds, target_list: list[str], as_json: bool, timeout: float) -> None:
    try:
        for t in target_list:
            check_target(t)
    except TargetError as e:
        raise Fail(str(e)) from None
    rows, failed = [], 0
    with Executor(_executor_config(timeout, 4096, ())) as ex, \
            Progress(console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("checking seeds", total=len(all_seeds))
        for s in all_seeds:
            bar.update(task, description=s.name)
            res = ex.run(seed_case(s, target_list), want_outputs=False)
            row = {"name": s.name, "kind": s.kind, "dtype": s.dtype, "status": res.outcome,
                   "stage": res.stage, "message": res.message.splitlines()[0][:200] if res.message else ""}
            for t in target_list:
                row[f"compile_ms_{t}"] = round(sum(v for k, v in res.timings_ms.items()
                                                   if k.endswith(f"@{t}") and not k.startswith("run")), 1)
            rows.append(row)
            failed += res.outcome != "ok"
            bar.advance(task)
            if as_json:
                click.echo(json.dumps(row))
    if not as_json:
        t = Table("name", "kind", "dtype", *[f"{tg} compile ms" for tg in target_list], "status")
        for r in rows:
            status = "[green]ok[/]" if r["status"] == "ok" else f"[red]{r['status']}[/] {r['stage']}: {r['message']}"
            t.add_row(r["name"], r["kind"], r["dtype"], *[f"{r[f'compile_ms_{tg}']:.0f}" for tg in target_list], status)
        console.print(t)
        console.print(f"{len(rows) - failed}/{len(rows)} seeds parse and build for {', '.join(target_list)}")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def version(as_json: bool) -> None:
    """Versions of tirfuzz, TVM and tvm-ffi, TVM's build flags, and whether a CUDA device is present."""
    import tvm
    import tvm_ffi


    info = tvm.support.libinfo()
    out = {"tirfuzz": __version__, "tvm": tvm.__version__, "tvm_ffi": tvm_ffi.__version__,
           "build_flags": {k: v for k, v in sorted(info.items()) if k.startswith("USE_") or "VERSION" in k},
           "cuda_device": cuda_device_present(), "python": sys.version.split()[0]}
    if as_json:
        click.echo(json.dumps(out))
        return
    t = Table(show_header=False, box=None)
    for k, v in out.items():
        t.add_row(k, ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v))
    console.print(t)


@main.command()
@click.argument("inputs", nargs=-1)
@click.option("--info", "show_info", is_flag=True, help="Library, build-id, site counts, cache, discovery times.")
@click.option("--scope", type=click.Choice(["tvm", "all"]), default="tvm", show_default=True,
              help="TVM's own code, or TVM plus its statically linked LLVM.")
@click.option("--granularity", type=click.Choice(["block", "function"]), default="block", show_default=True)
@click.option("--targets", default="llvm", show_default=True, help="Targets for seeds given by name.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input.")
@click.option("--timeout", default=120.0, show_default=True, help="Per-input limit, seconds.")
def coverage(inputs: tuple[str, ...], show_info: bool, scope: str, granularity: str, targets: str,
             as_json: bool, timeout: float) -> None:
    """Native block coverage of TVM's compiler library for case files or seed names.

    Each input runs in a fresh fork server with fresh breakpoints; the table gives the blocks it hit
    and how many of those no input before it hit. The first use discovers the sites (a minute or
    two, with a progress bar) and caches them per library build-id.
    """
    if show_info:
        find_sites(scope, granularity, progress=True)  # discover (and cache) the asked-for set if needed
        for line in coverage_info_lines():
            click.echo(line)
        if not inputs:
            return
    if not inputs:
        raise Fail("give case files or seed names (see `tirfuzz seeds`), or --info")
    cases = [_case_or_seed(name, targets) for name in inputs]
    find_sites(scope, granularity, progress=not as_json)
    _coverage_table(inputs, cases, scope, granularity, as_json, timeout)


def _case_or_seed(name: str, targets: str) -> TestCase:
    """A case file path, or the name of a built-in seed under the default pipeline."""
    if name.endswith(".json") or Path(name).exists():
        try:
            return load_case(name)
        except CaseError as e:
            raise Fail(str(e)) from None
    try:
        return seed_case(load_seed(name), [t.strip() for t in targets.split(",") if t.strip()])
    except KeyError:
        raise Fail(f"{name!r} is neither a case file nor a seed name (see `tirfuzz seeds`)") from None


def _coverage_table(names, cases, scope: str, granularity: str, as_json: bool, timeout: float) -> None:
    seen: set[int] = set()
    t = Table("input", "outcome", "blocks", "new", "ms")
    for name, case in zip(names, cases):
        config = ExecutorConfig(timeout_s=timeout, coverage=scope, granularity=granularity, warmup=False)
        with Executor(config) as ex:
            res = ex.run(case, want_outputs=False, want_sites=True)
        hit = set(res.new_sites)
        new = len(hit - seen)
        seen |= hit
        row = {"input": name, "outcome": res.outcome, "blocks": len(hit), "new": new,
               "ms": round(res.timings_ms.get("total", 0.0), 1), "scope": scope, "granularity": granularity}
        if as_json:
            click.echo(json.dumps(row))
        else:
            t.add_row(name, res.outcome, f"{len(hit):,}", f"{new:,}", f"{row['ms']:.0f}")
    if not as_json:
        console.print(t)
        console.print(f"{len(seen):,} distinct {granularity}s ({scope} scope) over {len(cases)} inputs")


@main.command()
def passes() -> None:
    """List the pass pool: every registered TIR pass a case may name."""
    for name in _pool(()).names():
        click.echo(name)


def _duration(text: str | None) -> float | None:
    """'90', '90s', '10m', '2h' -> seconds."""
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as e:
        raise Fail(str(e)) from None


@main.command()
@click.option("--time", "time_", default=None, help="Stop after this long: 120, 90s, 10m, 2h.")
@click.option("--execs", type=int, default=None, help="Stop after this many executions.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Campaign directory (default: tirfuzz-out/<start time>).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed and --execs, same corpus.")
@click.option("--targets", default="llvm,c", show_default=True, help="Targets every case is built for.")
@click.option("--pass-plugin", "plugins", multiple=True, type=click.Path(dir_okay=False),
              help="File whose module-level Pass objects join the pool (repeatable); they start in every seed's sequence.")
@click.option("--resume", is_flag=True, help="Continue the campaign in --out (also after kill -9).")
@click.option("--seeds", "seed_names", default=None, help="Comma-separated built-in seed names to start from.")
@click.option("--mode", type=click.Choice(["tirfuzz", "tzer", "generate"]), default="tirfuzz", show_default=True,
              help="tzer: Tzer's own choices (uniform seed choice, its mutator set, llvm only, no oracles: crashes and "
                   "internal errors only); generate: after the seeds, "
                   "a fresh random program every exec, no feedback (the TVMFuzz-like baseline).")
@click.option("--no-ir-mutation", is_flag=True, help="Ablation: mutate pass sequences only.")
@click.option("--no-pass-mutation", is_flag=True, help="Ablation: mutate IR only.")
@click.option("--no-feedback", is_flag=True, help="Ablation: never grow the corpus from coverage.")
@click.option("--timeout", default=10.0, show_default=True, help="Per-case wall-clock limit, seconds.")
@click.option("--coverage", "cov_scope", type=click.Choice(["tvm", "all"]), default="tvm", show_default=True)
@click.option("--no-oracle", is_flag=True, help="Skip the differential and round-trip oracles (crashes only).")
@click.option("--jobs", type=click.IntRange(1, 1024), default=None,
              help="Workers sharing this campaign: fork servers on this machine, or Ray actors with --ray "
                   "(default 1; with --ray, the cluster's CPU count). More than 1: no longer repeatable by --seed.")
@click.option("--ray", "ray_address", default=None, metavar="auto|HOST:PORT|local",
              help="Run the workers as Ray actors on a cluster (auto: the one `ray start` set up here; local: a new "
                   "one-node instance). The corpus, coverage and bugs stay in --out on this machine. Needs tirfuzz[ray].")
@click.option("--filters", "filters", multiple=True, type=click.Path(dir_okay=False), help=FILTERS_HELP)
def fuzz(time_, execs, out, seed, targets, plugins, resume, seed_names, mode, no_ir_mutation, no_pass_mutation,
         no_feedback, timeout, cov_scope, no_oracle, jobs, ray_address, filters) -> None:
    """Run a coverage-guided campaign on the built-in seeds (until stopped, without --time/--execs).

    Each step picks a corpus entry (power schedule), mutates its IR or its pass sequence in an isolated
    child, runs it for every target, keeps it if it reached new blocks of TVM's compiler library, and
    saves bugs as found in OUT/bugs/<signature>/. Ctrl-C stops cleanly; --resume continues.
    """
    if resume and out is None:
        raise Fail("--resume needs --out DIR (the campaign to continue)")
    if out is None:
        out = f"tirfuzz-out/{_t.strftime('%Y%m%d-%H%M%S')}"
    store = CampaignDir(out)
    if resume:
        try:
            saved = store.config()["config"]
        except (StoreError, KeyError) as e:
            raise Fail(f"cannot resume {out}: {e}") from None
        config = CampaignConfig(**{**saved, "time_s": _duration(time_), "execs": execs, "out": out})
    else:
        if mode == "tzer":  # Tzer's own choices: llvm only, crashes only (its result comparison was off)
            if click.get_current_context().get_parameter_source("targets") == click.core.ParameterSource.DEFAULT:
                targets = "llvm"
            no_oracle = True
        target_list = _targets(targets)
        _pool(plugins)  # a plugin that fails to import: one line, exit 2
        names = [n.strip() for n in seed_names.split(",")] if seed_names else None
        if names:
            for n in names:
                try:
                    load_seed(n)
                except KeyError:
                    raise Fail(f"--seeds: no built-in seed named {n!r} (see `tirfuzz seeds`)") from None
        config = CampaignConfig(out=out, time_s=_duration(time_), execs=execs, seed=seed, targets=target_list,
                                plugins=[str(Path(p).resolve()) for p in plugins], seeds=names, mode=mode,
                                ir_mutation=not no_ir_mutation, pass_mutation=not no_pass_mutation,
                                feedback=not no_feedback, timeout_s=timeout, coverage=cov_scope,
                                oracle=not no_oracle, filters=_check_filters(filters))
    workers = _workers(ray_address, jobs)  # before the campaign directory: a bad --ray loses nothing
    try:
        store.create(config_record(config), resume)
    except StoreError as e:
        raise Fail(str(e)) from None
    if config.mode == "generate":
        pass
    campaign = Campaign(config, store)
    interrupted = _drive(campaign, out, resume, workers)
    row = campaign.stats_row()
    click.echo(json.dumps(row))
    if interrupted:
        err_console.print(f"stopped. Resume with: tirfuzz fuzz --out {out} --resume")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--budget", default=120.0, show_default=True, help="Seconds of minimization per bug.")
@click.option("--no-minimize", is_flag=True, help="Replay, dedup and write reproducers without minimizing.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Bugs minimized and verified at once, one fork server each (use the cores you have).")
def triage(out: Path, budget: float, no_minimize: bool, jobs: int) -> None:
    """Replay every bug of campaign OUT, merge duplicates, minimize, write and verify repro.py, write
    report.md per bug and the campaign report (OUT/reports/index.html, summary.md, summary.json).

    A reproducer is "verified" only when, run alone in a fresh Python process where tirfuzz cannot be
    imported, it shows the same symptom.
    """
    if not (out / "campaign.json").exists():
        raise Fail(f"{out} is not a campaign directory (no campaign.json)")
    try:
        t = Triage(out, budget_s=budget, minimize=not no_minimize, on_progress=lambda m: err_console.print(m),
                   jobs=jobs)
        r = t.run()
    except ExecutorError as e:
        raise Fail(f"executor: {e}") from None
    click.echo(json.dumps({"bugs_before": r.bugs_before, "bugs_after": r.bugs_after,
                           "not_reproduced": r.not_reproduced, "merged": r.merged,
                           "verified": sum(r.verified.values()), "reproducers": len(r.verified),
                           "report": str(out / "reports" / "index.html")}))


@main.command()
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the minimized case (default: CASE.min.json).")
@click.option("--budget", default=120.0, show_default=True, help="Seconds to spend.")
@click.option("--timeout", default=30.0, show_default=True, help="Per-attempt wall-clock limit, seconds.")
@click.option("--pass-plugin", "plugins", multiple=True, type=click.Path(dir_okay=False), help="As for `run`.")
def minimize(case_file: Path, out_file: Path | None, budget: float, timeout: float, plugins: tuple[str, ...]) -> None:
    """Shrink a failing case (passes first, then the IR) while its bug signature stays the same."""
    try:
        case = load_case(case_file)
    except CaseError as e:
        raise Fail(str(e)) from None
    validate_case(case, _pool(plugins))
    out_file = out_file or case_file.with_suffix(".min.json")
    try:
        with Executor(_executor_config(timeout, 4096, plugins, jobs=(REDUCE_JOB,))) as ex:
            m = Minimizer(ex, budget, on_progress=lambda phase, done, total: None).minimize(case)
    except ExecutorError as e:
        raise Fail(f"executor: {e}") from None
    if not m.reproduced:
        raise Fail(f"{case_file}: the case shows no bug on this TVM ({m.signature}); nothing to minimize")
    save_case(m.case, out_file)
    click.echo(json.dumps({**m.record(), "out": str(out_file)}))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--timeout", default=30.0, show_default=True, help="Per-case wall-clock limit, seconds.")
@click.option("--pass-plugin", "plugins", multiple=True, type=click.Path(dir_okay=False), help="As for `run`.")
def replay(paths: tuple[Path, ...], timeout: float, plugins: tuple[str, ...]) -> None:
    """Does each bug still reproduce on the installed TVM? CASE.json files or bug folders (bugs/<sig>/).

    A bug folder reproduces when its case gives the same signature as its folder name; a case file when
    it shows any bug. Exit code 0 when all reproduce, 1 otherwise.
    """
    items: list[tuple[Path, TestCase, str | None]] = []
    for p in paths:
        f = p / "case.json" if p.is_dir() else p
        try:
            items.append((p, load_case(f), p.name if p.is_dir() else None))
        except CaseError as e:
            raise Fail(str(e)) from None
    all_ok = True
    try:
        with Executor(_executor_config(timeout, 4096, plugins)) as ex:
            for p, case, expected in items:
                sig = signature_of(ex.run(case, want_outputs=False, oracle=True))
                ok = sig == expected if expected else "-" in sig
                all_ok &= ok
                click.echo(f"{'REPRODUCES' if ok else 'GONE      '} {p}  ({sig})")
    except ExecutorError as e:
        raise Fail(f"executor: {e}") from None
    sys.exit(0 if all_ok else 1)


@main.command()
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "md", "json"]),
              help="Which files to write (default: all three).")
def report(out: Path, formats: tuple[str, ...]) -> None:
    """Write the campaign report of OUT into OUT/reports/ (index.html, summary.md, summary.json)."""
    if not (out / "campaign.json").exists():
        raise Fail(f"{out} is not a campaign directory (no campaign.json)")
    for path in write_reports(out, formats or ("html", "md", "json")):
        click.echo(str(path))


@main.command()
@click.option("--time", "time_", default="20m", show_default=True, help="Fuzzing budget: 120, 90s, 20m, 1h.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Campaign directory, the job's artifact (default: tirfuzz-ci/<start time>).")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Known bugs (tirfuzz-baseline/1 JSON): found again, they pass.")
@click.option("--update-baseline", is_flag=True, help="Write the baseline: tonight's bugs plus known ones that still reproduce.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JUnit XML: one testcase per signature, new ones failing.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--targets", default="llvm,c", show_default=True)
@click.option("--seeds", "seed_names", default=None, help="Comma-separated built-in seed names to start from.")
@click.option("--pass-plugin", "plugins", multiple=True, type=click.Path(dir_okay=False), help="As for `fuzz`.")
@click.option("--filters", "filters", multiple=True, type=click.Path(dir_okay=False), help=FILTERS_HELP)
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Start from the cases in this folder (the built-in seeds when empty or new) and write the "
                   "night's corpus back, minimized.")
def ci(time_, out, baseline, update_baseline, junit, seed, targets, seed_names, plugins, filters, corpus_dir) -> None:
    """The nightly job: replay the baseline's bugs, fuzz for --time, judge only new bugs.

    \b
    Exit code: 0 no new bug, 1 a new bug was found, 2 usage or environment error.
    Writes the JUnit XML (--junit), a Markdown summary to $GITHUB_STEP_SUMMARY when set, and the
    campaign directory (--out) to keep as an artifact.
    """
    known = Baseline()
    if baseline is not None and (baseline.exists() or not update_baseline):
        try:
            known = Baseline.load(baseline)
        except BaselineError as e:
            raise Fail(str(e)) from None
    if update_baseline and baseline is None:
        raise Fail("--update-baseline needs --baseline FILE (where to write it)")
    target_list = _targets(targets)
    _pool(plugins)
    out = out or f"tirfuzz-ci/{_t.strftime('%Y%m%d-%H%M%S')}"
    store = CampaignDir(out)
    config = CampaignConfig(out=out, time_s=_duration(time_), seed=seed, targets=target_list,
                            plugins=[str(Path(p).resolve()) for p in plugins],
                            seeds=[n.strip() for n in seed_names.split(",")] if seed_names else None,
                            filters=_check_filters(filters), corpus_dir=str(corpus_dir) if corpus_dir else None)
    try:
        store.create(config_record(config), False)
    except StoreError as e:
        raise Fail(str(e)) from None
    t0 = _t.monotonic()
    still, fixed = [], []
    if known.bugs:
        err_console.print(f"replaying {len(known.bugs)} known bugs")
        try:
            with Executor(_executor_config(config.timeout_s * 3, 4096, plugins, filters=tuple(config.filters))) as ex:
                still, fixed = replay_baseline(ex, known)
        except ExecutorError as e:
            raise Fail(f"executor: {e}") from None
    campaign = Campaign(config, store)
    _drive(campaign, out, False)
    found = {sig: info for sig, info in campaign.bugs.items()}
    verdict = judge(found, known, still, fixed, _t.monotonic() - t0)
    stats = campaign.stats_row()
    if junit is not None:
        junit.write_text(junit_xml(verdict, found, known, out))
    summary = step_summary(verdict, found, stats, out)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as fh:
            fh.write(summary)
    if corpus_dir is not None:
        entries, _ = read_cases(Path(out) / "corpus")
        merged = minimize_corpus(entries, _executor_config(config.timeout_s, 4096, plugins, "tvm", tuple(config.filters)))
        write_corpus(merged.kept, corpus_dir)
        err_console.print(f"corpus: kept {len(merged.kept)} of {merged.total} cases in {corpus_dir}")
    if update_baseline:
        cases = {}
        for sig in found:
            try:
                cases[sig] = _load(Path(out) / "bugs" / sig / "case.json")
            except CaseError:
                pass
        updated_baseline(found, cases, known, still).save(baseline)
    click.echo(summary)
    click.echo(json.dumps({"new": verdict.new, "known": verdict.known, "fixed": verdict.fixed,
                           "exit": verdict.exit_code}))
    sys.exit(verdict.exit_code)


@main.group()
def corpus() -> None:
    """Corpus maintenance (a corpus is a folder of case files, e.g. a campaign's OUT/corpus)."""


@corpus.command("minimize")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the kept cases here (default: replace FOLDER's cases in place).")
@click.option("--timeout", default=10.0, show_default=True, help="Per-case wall-clock limit, seconds.")
@click.option("--pass-plugin", "plugins", multiple=True, type=click.Path(dir_okay=False), help="As for `run`.")
def corpus_minimize(folder: Path, out_dir: Path | None, timeout: float, plugins: tuple[str, ...]) -> None:
    """Keep the fewest cases that reach the same blocks of TVM (like afl-cmin), smallest cases first."""
    cases, bad = read_cases(folder)
    for line in bad:
        err_console.print(f"skipped unreadable case {line}")
    if not cases:
        raise Fail(f"{folder}: no readable case files (*.json)")
    try:
        merged = minimize_corpus(cases, _executor_config(timeout, 4096, plugins, "tvm"))
    except ExecutorError as e:
        raise Fail(f"executor: {e}") from None
    write_corpus(merged.kept, out_dir or folder)
    click.echo(json.dumps({"total": merged.total, "kept": len(merged.kept), "blocks": merged.blocks,
                           "unreadable": len(bad), "out": str(out_dir or folder)}))


def _workers(ray_address: str | None, jobs: int | None):
    """None for one local job; else a function making the campaign's ParallelRunner."""
    if ray_address is None:
        if (jobs or 1) == 1:
            return None

        return lambda c: ParallelRunner(c, lambda covered: local_workers(c, jobs, covered))

    try:
        cluster = connect(ray_address)
    except RayUnavailable as e:
        raise Fail(str(e)) from None
    count = jobs or max(cluster["cpus"], 1)

    def runner(c):
        pool = RayPool(c, count)
        return ParallelRunner(c, pool.make, pool.respawn)

    return runner


def _drive(campaign, out: str, resume: bool, workers=None) -> bool:
    """Run a campaign to its budget under the status screen; True when Ctrl-C stopped it."""
    interrupted = False
    with StatusScreen(campaign, out) as screen:
        campaign.on_event = screen.event
        campaign.on_progress = screen.update
        try:
            screen.event("starting the fork server and running the seeds" if not resume else "resuming")
            campaign.open(resume)
            campaign.checkpoint()
            last = {"stats": _now(), "cov": _now()}

            def tick() -> None:
                screen.update()
                now = _now()
                if now - last["stats"] >= 10:
                    campaign.checkpoint(coverage=now - last["cov"] >= 30)
                    last["cov"] = now if now - last["cov"] >= 30 else last["cov"]
                    last["stats"] = now

            if workers is not None:
                workers(campaign).run(tick)
            while not campaign.done():
                campaign.step()
                tick()
        except KeyboardInterrupt:
            interrupted = True
        except (ExecutorError, StoreError, WorkerLost, RayUnavailable) as e:
            campaign.close()
            raise Fail(str(e)) from None
        finally:
            campaign.close()
    return interrupted


def _now() -> float:
    return _t.monotonic()


if __name__ == "__main__":  # pragma: no cover
    main()
