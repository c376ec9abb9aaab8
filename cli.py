"""The `tirfuzz` command line: parse the options, call the package, print. Exit 2 on bad input."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from tirfuzz import __version__
from tirfuzz.corpus import list_seeds, load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.corpus.generate import regenerate
from tirfuzz.fuzzer.baselines.atheris import run_libfuzzer
from tirfuzz.fuzzer.baselines.generate import GenerateCampaign
from tirfuzz.fuzzer.campaign.campaign import Campaign, executor_config, make_campaign
from tirfuzz.fuzzer.campaign.config import CampaignConfig, config_record, parse_duration
from tirfuzz.fuzzer.campaign.distill import distill_corpus, write_corpus
from tirfuzz.fuzzer.campaign.parallel import WorkerLost
from tirfuzz.fuzzer.campaign.presets import PRESETS, preset
from tirfuzz.fuzzer.campaign.ray_workers import RayUnavailable
from tirfuzz.fuzzer.campaign.scaling import parallel_runner
from tirfuzz.fuzzer.campaign.seeds import SEEDS_FILE, SeedError, SeedSet, is_path, load_seeds, seed_tokens
from tirfuzz.fuzzer.campaign.status import run_with_screen
from tirfuzz.fuzzer.campaign.store import CampaignDir, StoreError
from tirfuzz.fuzzer.core.case import CaseError, TestCase, load_case, read_cases, save_case
from tirfuzz.fuzzer.core.passes import PassError, PassPool
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.fuzzer.core.targets import TargetError, check_target, cuda_device_present
from tirfuzz.fuzzer.execution.coverage import coverage_info_lines, find_sites
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig, ExecutorError
from tirfuzz.fuzzer.tir.reduce import REDUCE_JOB
from tirfuzz.oracles.filters import FilterError, load_filters
from tirfuzz.oracles.standard import STANDARD_JOB, annotate, to_label
from tirfuzz.oracles.verdict import judge
from tirfuzz.reports.ci import KnownBugs, KnownBugsError, finish_night, replay_known
from tirfuzz.reports.closing import closing_lines
from tirfuzz.reports.coverage import coverage_rows
from tirfuzz.reports.minimize import Minimizer
from tirfuzz.reports.releases import RELEASES, ReleaseError, check_versions, replay_releases
from tirfuzz.reports.seeds import check_seeds
from tirfuzz.reports.summary import issue_report, write_reports
from tirfuzz.reports.triage import Triage
from tirfuzz.reports.upstream import KnownUpstreamError, load_known
from tirfuzz.reports.view import print_coverage, print_mapping, print_result, print_seed_check, print_seed_list

console = Console(width=None if sys.stdout.isatty() else 160)  # piped output: do not truncate names
err_console = Console(stderr=True)
ENV_ERRORS = (ExecutorError, StoreError, WorkerLost, RayUnavailable)


class Fail(click.ClickException):
    """A one-line error about the user's input or environment; exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.secho("error: ", fg="red", bold=True, err=True, nl=False)
        click.echo(" ".join(self.message.split()), err=True)  # always exactly one line


def checked(fn, *args, errors=(ValueError,), prefix: str = ""):
    """fn(*args), with each of `errors` turned into a one-line Fail."""
    try:
        return fn(*args)
    except errors as e:
        raise Fail(prefix + str(e)) from None


def _targets(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    for t in names:
        checked(check_target, t, errors=(TargetError,))
    return names


def _filters(files: tuple[str, ...]) -> list[str]:
    checked(load_filters, files, errors=(FilterError,))
    return [str(Path(f).resolve()) for f in files]


def _pool(plugins: tuple[str, ...]) -> PassPool:
    return checked(PassPool, plugins, errors=(PassError,))


def _case(path: Path) -> TestCase:
    """A case file and its targets checked without parsing the IR (its passes: `_passes`)."""
    case = checked(load_case, path, errors=(CaseError,))
    for t in case.targets:
        checked(check_target, t, errors=(TargetError,))
    return case


def _passes(cases: list[TestCase], pool: PassPool) -> None:
    """Each case's passes checked against the pool."""
    for case in cases:
        for p in case.passes:
            checked(pool.check, p, errors=(PassError,))


@contextmanager
def _starting(runner: Executor | None):
    """Launch `runner`'s fork server (it imports TVM) while the block checks the input (which imports TVM
    here): one wait instead of two. Bad input raised in the block: the server is stopped."""
    if runner is not None:
        runner.launch()
    try:
        yield runner
    except BaseException:
        if runner is not None:
            runner.close()
        raise


def _launched(config: ExecutorConfig, cases: list[TestCase], plugins: tuple[str, ...]) -> Executor:
    """An executor starting while the cases' passes are checked (`_starting`)."""
    with _starting(Executor(config)) as ex:
        _passes(cases, _pool(plugins))
    return ex


def _focus(text: str, pool: PassPool) -> list[str]:
    """--focus names resolved against the pool: a full name, or a short one (VectorizeLoop) naming one pass."""
    names, out = pool.names(), []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        hits = [n for n in names if n == item] or [n for n in names if n.rpartition(".")[2] == item]
        if len(hits) != 1:
            raise Fail(f"--focus {item}: " + ("no such pass (see tirfuzz passes)" if not hits else
                                               f"ambiguous: {', '.join(hits)}"))
        out.append(hits[0])
    return out


def _seed_names(text: str | None) -> list[str] | None:
    """--seeds' tokens: existing paths (made absolute) and built-in seed names."""
    return checked(seed_tokens, text, errors=(SeedError,))


def _seed_set(config: CampaignConfig, pool: PassPool) -> SeedSet | None:
    """With paths among --seeds: their programs, loaded (user files run in children) before OUT is made.
    Each rejected file is listed with its reason; nothing usable is a one-line error."""
    if not config.seeds or not any(is_path(t) for t in config.seeds):
        return None
    with err_console.status("loading seeds") as status:
        loaded = checked(lambda: load_seeds(config.seeds, list(config.targets), plugins=config.plugins,
                                            timeout_s=config.timeout_s, memory_mb=config.memory_mb,
                                            check_pass=pool.check,
                                            on_file=lambda f: status.update(f"loading seeds: {escape(f.name)}")),
                         errors=ENV_ERRORS, prefix="executor: ")
    if not loaded.used:
        shown = "; ".join(r.line() for r in loaded.rejected[:3]) or "no .py or .json file found"
        more = f"; and {len(loaded.rejected) - 3} more" if len(loaded.rejected) > 3 else ""
        raise Fail(f"--seeds: no usable program in {loaded.files} file(s): {shown}{more}")
    for r in loaded.rejected:  # plain lines, never wrapped: one per rejected file or program
        click.echo(f"seed rejected: {r.line()}", err=True)
    click.echo(f"seeds: {len(loaded.used)} programs used ({loaded.files} files read), {len(loaded.rejected)} "
               f"rejected (all recorded in OUT/{SEEDS_FILE})", err=True)
    return loaded


def _duration(text: str | None) -> float | None:
    return None if text is None else checked(parse_duration, text)


SEEDS = click.option(
    "--seeds", "seed_names", default=None, metavar="NAME|PATH,...",
    help="What to start from [default: all built-in seeds]: comma-separated built-in seed names (see `tirfuzz "
         "seeds`) and paths (a token that is an existing path is a path). A path is a TVMScript .py file as you "
         "write it (import lines, @I.ir_module classes, module-level @T.prim_func functions; each becomes a seed "
         "named <file stem>.<name>; the file runs only in an isolated child, never in this process), a case .json "
         "file, or a folder of both (recursive; a campaign directory: its corpus/). A program that does not parse "
         "or build for the targets is listed with its reason and skipped (OUT/seeds.json records used and rejected); "
         "nothing usable: exit 2.")
PLUGIN = click.option("--pass-plugin", "plugins", multiple=True, type=click.Path(dir_okay=False),
                      help="Python file whose module-level Pass objects join the pool as plugin:<stem>.<name> (repeatable).")
FILTERS = click.option("--filters", "filters", multiple=True, type=click.Path(dir_okay=False),
                       help="Extra known-false-alarm filters (TOML, the format of oracles/filters.toml); repeatable.")
FRESH = click.option("--fresh", type=click.FloatRange(0.0, 0.5), default=None, metavar="SHARE",
                     help="Share of execs that run a freshly generated program instead of a mutant; kept when it "
                          "reaches new blocks, then mutated. It follows its yield against the mutators' (2% to "
                          "30%) [default: the mode's, 0.1; tzer 0]. 0: mutants only (ablation).")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """tirfuzz: coverage-guided fuzzing and differential testing of Apache TVM's TIR.

    \b
    Start with:
      tirfuzz fuzz --time 10m      a campaign on the built-in seeds (then: tirfuzz triage OUT)
      tirfuzz run CASE.json        run one test case in an isolated child process
      tirfuzz seeds --check        parse and build every built-in seed program
    """


@main.command()
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--timeout", default=20.0, show_default=True, help="Wall-clock limit for the case, seconds.")
@click.option("--memory-mb", default=4096, show_default=True, help="Address-space limit for the child, MiB.")
@PLUGIN
@click.option("--no-oracle", is_flag=True, help="Do not compare with the reference build or check the round trip.")
@FILTERS
def run(case_file, as_json, timeout, memory_mb, plugins, no_oracle, filters) -> None:
    """Run one test case (tirfuzz-case/1 JSON) and print what happened.

    The case's TVMScript is parsed only inside the isolated child (parsing evaluates Python). Every
    build that runs is compared with TVM's default pipeline for llvm on the same inputs. Exit code:
    0 ok or filtered (rejected input, a named filter), 1 a bug (crash, hang, internal-error,
    miscompilation, roundtrip), 2 bad input, 3 tirfuzz's own code failed (a tool error, not a TVM bug).
    """
    case = _case(case_file)
    config = ExecutorConfig(timeout_s=timeout, memory_mb=memory_mb, plugins=plugins, filters=tuple(_filters(filters)),
                            jobs=(STANDARD_JOB,))
    with _launched(config, [case], plugins) as ex:
        res = checked(ex.run, case, True, False, None, not no_oracle, errors=(ExecutorError,), prefix="executor: ")
        if judge(case, res).is_bug:  # an unmodified program: does tvm.compile fail on it the same way?
            checked(annotate, ex, case, res, errors=(ExecutorError,), prefix="executor: ")
    if res.outcome == "rejected" and res.stage == "parse":
        raise Fail(f"{case_file}: the IR does not parse as TVMScript: {(res.message.splitlines() or [''])[0]}")
    verdict = judge(case, res)
    if as_json:
        click.echo(json.dumps({**res.summary(), "verdict": verdict.kind, "verdict_filter": verdict.filter,
                               "verdict_reason": verdict.reason}))
    else:
        label = to_label(res.oracle)
        if label:
            console.print(f"[bold yellow]{escape(label)}[/]", highlight=False)
        print_result(console, res, verdict)
    if verdict.kind == "tool-error":
        err_console.print("tirfuzz's own code failed on this case (not a TVM bug); please report it to tirfuzz")
    sys.exit(3 if verdict.kind == "tool-error" else 1 if verdict.is_bug else 0)


@main.command()
@click.option("--check", is_flag=True, help="Parse and build every seed for each target in a child; print a table.")
@click.option("--regen", is_flag=True, help="Rebuild the seed files from TVM's operator library (te/topi).")
@click.option("--targets", default="llvm,c", show_default=True, help="Targets for --check, comma-separated.")
@click.option("--json", "as_json", is_flag=True, help="With --check: one JSON object per seed.")
@click.option("--timeout", default=60.0, show_default=True, help="Per-seed limit for --check, seconds.")
def seeds(check, regen, targets, as_json, timeout) -> None:
    """List, check or regenerate the built-in seed corpus (TVMScript files in corpus/seeds/)."""
    if regen:
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("generating seeds", total=None)
            made = regenerate(progress=lambda name: bar.update(task, advance=1, description=name))
        err_console.print(f"regenerated {len(made)} seeds")
    all_seeds = list_seeds()
    if not check:
        return print_seed_list(console, all_seeds)
    names = _targets(targets)
    with Progress(console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("checking seeds", total=len(all_seeds))

        def on_row(row):
            bar.update(task, advance=1, description=row["name"])
            if as_json:
                click.echo(json.dumps(row))
        rows = check_seeds(all_seeds, names, timeout, on_row)
    if not as_json:
        print_seed_check(console, rows, names)
    sys.exit(1 if any(r["status"] != "ok" for r in rows) else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def version(as_json) -> None:
    """Versions of tirfuzz, TVM and tvm-ffi, TVM's build flags, and whether a CUDA device is present."""
    import tvm
    import tvm_ffi

    info = tvm.support.libinfo()
    out = {"tirfuzz": __version__, "tvm": tvm.__version__, "tvm_ffi": tvm_ffi.__version__,
           "build_flags": {k: v for k, v in sorted(info.items()) if k.startswith("USE_") or "VERSION" in k},
           "cuda_device": cuda_device_present(), "python": sys.version.split()[0]}
    click.echo(json.dumps(out)) if as_json else print_mapping(console, out)


@main.command()
@click.argument("inputs", nargs=-1)
@click.option("--info", "show_info", is_flag=True, help="Library, build-id, site counts, cache, discovery times.")
@click.option("--scope", type=click.Choice(["tvm", "all"]), default="tvm", show_default=True,
              help="TVM's own code, or TVM plus its statically linked LLVM.")
@click.option("--granularity", type=click.Choice(["block", "function"]), default="block", show_default=True)
@click.option("--targets", default="llvm", show_default=True, help="Targets for seeds given by name.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input.")
@click.option("--timeout", default=120.0, show_default=True, help="Per-input limit, seconds.")
def coverage(inputs, show_info, scope, granularity, targets, as_json, timeout) -> None:
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
    cases = []
    for name in inputs:
        if name.endswith(".json") or Path(name).exists():
            cases.append(checked(load_case, name, errors=(CaseError,)))
        else:
            seed = checked(load_seed, name, errors=(KeyError,),
                           prefix=f"{name!r} is neither a case file nor a seed name (see `tirfuzz seeds`): ")
            cases.append(seed_case(seed, [t.strip() for t in targets.split(",") if t.strip()]))
    find_sites(scope, granularity, progress=not as_json)
    rows, total = coverage_rows(list(inputs), cases, scope, granularity, timeout,
                                on_row=lambda r: click.echo(json.dumps(r)) if as_json else None)
    if not as_json:
        print_coverage(console, rows, total, scope, granularity)


@main.command()
def passes() -> None:
    """List the pass pool: every registered TIR pass a case may name."""
    for name in _pool(()).names():
        click.echo(name)


@main.command()
@click.option("--time", "time_", default=None, help="Stop after this long: 120, 90s, 10m, 2h.")
@click.option("--execs", type=int, default=None, help="Stop after this many executions.")
@click.option("--out", default=None, type=click.Path(file_okay=False), help="Campaign directory (default: tirfuzz-out/<start time>).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed and --execs, same corpus.")
@click.option("--targets", default=None, help="Targets every case is built for, comma-separated [default: the mode's, llvm,c].")
@PLUGIN
@click.option("--resume", is_flag=True, help="Continue the campaign in --out (also after kill -9).")
@SEEDS
@click.option("--mode", type=click.Choice(list(PRESETS)), default="tirfuzz", show_default=True,
              help="; ".join(f"{p.name}: {p.summary}" for p in PRESETS.values()) + ".")
@click.option("--no-ir-mutation", is_flag=True, help="Ablation: mutate pass sequences only.")
@click.option("--no-pass-mutation", is_flag=True, help="Ablation: mutate IR only.")
@click.option("--no-feedback", is_flag=True, help="Ablation: never grow the corpus from coverage.")
@click.option("--stack", type=click.IntRange(1, 16), default=None,
              help="Most mutations stacked in one exec (1 to N, mean (N+1)/2) [default: the mode's, 4; tzer 1]. "
                   "1: one mutation per exec (ablation).")
@click.option("--no-structure", is_flag=True,
              help="Ablation: keep mutants for new coverage only, not for IR structure no case showed before.")
@click.option("--pass-structure/--no-pass-structure", default=None,
              help="Structure feedback from what each of the case's passes made of the module too: a mutant "
                   "whose pass made or took away a statement feature no pass did before is kept [default: off].")
@click.option("--no-build-targets", is_flag=True,
              help="Ablation: cases never add a target built but not run here (CUDA without a GPU, LLVM for "
                   "AArch64, RISC-V, Arm, i686, WebAssembly, POWER); mutator build-target.")
@click.option("--fixed-weights", is_flag=True,
              help="Ablation: draw mutators by their fixed weights, not by what each one yielded so far.")
@FRESH
@click.option("--timeout", default=10.0, show_default=True, help="Per-case wall-clock limit, seconds.")
@click.option("--coverage", "cov_scope", type=click.Choice(["tvm", "all"]), default="tvm", show_default=True)
@click.option("--no-oracle", is_flag=True, help="Skip the differential and round-trip oracles (crashes only).")
@click.option("--no-ahead", is_flag=True,
              help="Make each mutation in the case's child just before its run, not ahead in a mutator child "
                   "while the case before runs, and wait for the fresh run that judges a kept child's failure, "
                   "not run it alongside the next case (one worker's default; both use a second core).")
@click.option("--jobs", type=click.IntRange(1, 1024), default=None,
              help="Workers sharing this campaign: fork servers here, or Ray actors with --ray (default 1; with "
                   "--ray, the cluster's CPU count). More than 1: no longer repeatable by --seed.")
@click.option("--ray", "ray_address", default=None, metavar="auto|HOST:PORT|local",
              help="Run the workers as Ray actors on a cluster (auto: the one `ray start` set up here; local: a new "
                   "one-node instance). The corpus, coverage and bugs stay in --out here. Needs tirfuzz[ray].")
@FILTERS
@click.option("--focus", default=None, metavar="PASS[,PASS]",
              help="Aim at these passes (full or short names, plugin:<stem>.<name> too): every seed's sequence gets "
                   "them, the corpus keeps only sequences holding one, entries where one changed the module are "
                   "picked twice as often; the report counts the execs each ran and changed the module in.")
@click.option("--json", "as_json", is_flag=True,
              help="At the end print one JSON object (the last stats row) instead of the summary for a person.")
def fuzz(time_, execs, out, seed, targets, plugins, resume, seed_names, mode, no_ir_mutation, no_pass_mutation,
         no_feedback, stack, no_structure, pass_structure, no_build_targets, fixed_weights, fresh, timeout, cov_scope, no_oracle, no_ahead, jobs, ray_address,
         filters, focus, as_json) -> None:
    """Run a coverage-guided campaign on the built-in seeds or your own TVMScript files (--seeds), until
    stopped without --time/--execs. For example: tirfuzz fuzz --seeds my_kernels/,add_int32 --time 10m

    Each step picks a corpus entry (power schedule), mutates its IR or its pass sequence in an isolated
    child, runs it for every target, keeps it if it reached new blocks of TVM's compiler library, and
    saves bugs as found in OUT/bugs/<signature>/. Ctrl-C stops cleanly; --resume continues. At the end
    it writes OUT/reports/index.html (before any triage) and prints the bugs, the coverage and the next
    command: `tirfuzz triage OUT`.
    """
    if resume and out is None:
        raise Fail("--resume needs --out DIR (the campaign to continue)")
    out = out or f"tirfuzz-out/{time.strftime('%Y%m%d-%H%M%S')}"
    store = CampaignDir(out)
    pool, runner = None, None
    if resume:
        saved = checked(lambda: store.config()["config"], errors=(StoreError, KeyError), prefix=f"cannot resume {out}: ")
        config = CampaignConfig(**{**saved, "time_s": _duration(time_), "execs": execs, "out": out})
    else:
        config = CampaignConfig(out=out, time_s=_duration(time_), execs=execs, seed=seed, mode=mode,
                                targets=_targets(targets) if targets else None,
                                plugins=[str(Path(p).resolve()) for p in plugins], seeds=_seed_names(seed_names),
                                ir_mutation=not no_ir_mutation, pass_mutation=not no_pass_mutation,
                                feedback=not no_feedback, stack=stack, learn=False if fixed_weights else None,
                                structure=False if no_structure else None,
                                pass_structure=pass_structure, fresh=fresh,
                                build_targets=False if no_build_targets else None,
                                timeout_s=timeout, coverage=cov_scope,
                                oracle=False if no_oracle else None, filters=_filters(filters),
                                ahead=not no_ahead)
    engine = preset(config.mode).engine
    if engine == "libfuzzer" and (resume or jobs or ray_address or config.time_s is None or config.time_s <= 0):
        raise Fail("--mode libfuzzer runs for a --time of more than 0 s, in one job, and does not resume")
    if not resume and engine != "libfuzzer" and (jobs or 1) == 1 and ray_address is None:
        runner = Executor(executor_config(config))
    with _starting(runner):
        if not resume:
            pool = _pool(plugins)  # a plugin that fails to import: one line, exit 2
            config.focus = _focus(focus, pool) if focus else []
        workers = checked(parallel_runner, ray_address, jobs, errors=(RayUnavailable,))  # before OUT: loses nothing
        seed_set = _seed_set(config, pool) if pool is not None else None
        checked(store.create, config_record(config), resume, errors=(StoreError,))
    if seed_set is not None:
        store.write_json(SEEDS_FILE, seed_set.record(config.seeds))
    if engine == "libfuzzer":
        code, row, last_line = run_libfuzzer(config, Path(out))
        click.echo(json.dumps(row))
        if code != 0:
            err_console.print(f"error: libFuzzer worker exited with code {code}: {last_line} (see {out}/libfuzzer/log.txt)")
        sys.exit(1 if code else 0)
    campaign = make_campaign(config, store, resume, GenerateCampaign if engine == "generate" else Campaign, runner)
    interrupted = checked(run_with_screen, campaign, out, resume, workers, errors=ENV_ERRORS)
    write_reports(Path(out))
    if as_json:
        click.echo(json.dumps(campaign.stats_row()))
        if interrupted:
            err_console.print(f"stopped. Resume with: tirfuzz fuzz --out {out} --resume")
    else:
        for line in closing_lines(Path(out), bool(interrupted)):
            click.echo(line)


@main.command()
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--budget", default=120.0, show_default=True, help="Seconds of minimization per bug.")
@click.option("--no-minimize", is_flag=True, help="Replay, dedup and write reproducers without minimizing.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Bugs minimized and verified at once, one fork server each (use the cores you have).")
@click.option("--known-upstream", "known_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="More known apache/tvm issues (TOML, like reports/known_upstream.toml): a bug "
                                 "matching one is labelled known upstream and sorts last.")
@click.option("--releases", "with_releases", is_flag=True,
              help="Then replay every verified reproducer on the apache-tvm releases (as `tirfuzz releases OUT`).")
def triage(out, budget, no_minimize, jobs, known_file, with_releases) -> None:
    """Replay every bug of campaign OUT, merge duplicates, minimize, write and verify repro.py, write
    report.md per bug and the campaign report (OUT/reports/index.html, summary.md, summary.json).

    A reproducer is "verified" only when, run alone in a fresh Python process where tirfuzz cannot be
    imported, it shows the same symptom.
    """
    if not (out / "campaign.json").exists():
        raise Fail(f"{out} is not a campaign directory (no campaign.json)")
    known = checked(load_known, known_file, errors=(KnownUpstreamError,))
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("triage", total=None)

        def said(msg: str) -> None:
            bar.update(task, description=escape(msg[:70]))

        t = Triage(out, budget_s=budget, minimize=not no_minimize, on_progress=said, jobs=jobs, known=known,
                   on_advance=lambda done, total: bar.update(task, completed=done, total=total))
        r = checked(t.run, errors=(ExecutorError,), prefix="executor: ")
    for old, new in r.merged.items():  # which signatures became one, and on what
        verb = "merged into" if old in r.joined else "renamed to"
        err_console.print(f"{old} {verb} {new}: {escape(r.why.get(old, ''))}")
    row = {"bugs_before": r.bugs_before, "bugs_after": r.bugs_after, "not_reproduced": r.not_reproduced,
           "merged": r.merged, "joined": r.joined, "why": r.why, "verified": sum(r.verified.values()),
           "reproducers": len(r.verified), "report": str(out / "reports" / "index.html")}
    if with_releases:
        row["releases"] = _releases(out, list(RELEASES), None, 120.0, jobs)
    click.echo(json.dumps(row))


def _releases(out: Path, versions: list[str], cache: Path | None, timeout: float, jobs: int,
              only: list[str] | None = None) -> dict:
    """Replay OUT's verified reproducers on the releases, with a progress bar; the JSON record."""
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("release range", total=None)

        def tell(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=escape(what[:70]))
        rep = checked(replay_releases, out, versions, cache, timeout, jobs, tell, only, errors=(ReleaseError,))
    for v, e in rep.envs.items():
        if "error" in e:
            err_console.print(f"{v}: {e['error']}")
    return {"envs": rep.envs, "ranges": rep.ranges, "regressions": rep.regressions, "skipped": rep.skipped}


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--versions", default=",".join(RELEASES), show_default=True,
              help="apache-tvm releases to replay on, comma-separated.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the release environments live [default: $TIRFUZZ_RELEASES or ~/.cache/tirfuzz/releases].")
@click.option("--timeout", default=120.0, show_default=True, help="Per-run limit, seconds (a hang reproduces by reaching it).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Runs at once.")
@click.option("--bug", "only", multiple=True, metavar="SIGNATURE",
              help="Only this bug (a signature or its prefix; repeatable).")
def releases(out, versions, cache, timeout, jobs, only) -> None:
    """Replay every verified reproducer of campaign OUT on other apache-tvm releases from PyPI.

    Each release gets its own virtual environment, made once (pip install; about half a minute each)
    and cached. Per bug, info.json and report.md get the range ("reproduces on 0.26.0 to 0.27.0.post1,
    not on 0.25.0"; a regression since 0.26.0), and the campaign report lists regressions first. A
    release that cannot run a reproducer (TVMScript or an API it lacks) says why: that is not "does not
    reproduce".
    """
    if not (out / "campaign.json").exists():
        raise Fail(f"{out} is not a campaign directory (no campaign.json)")
    names = checked(check_versions, [v.strip() for v in versions.split(",") if v.strip()], errors=(ReleaseError,))
    if not names:
        raise Fail("--versions names no release")
    click.echo(json.dumps(_releases(out, names, cache, timeout, jobs, list(only))))


@main.command()
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the minimized case (default: CASE.min.json).")
@click.option("--budget", default=120.0, show_default=True, help="Seconds to spend.")
@click.option("--timeout", default=30.0, show_default=True, help="Per-attempt wall-clock limit, seconds.")
@PLUGIN
def minimize(case_file, out_file, budget, timeout, plugins) -> None:
    """Shrink a failing case (passes first, then the IR) while its bug signature stays the same."""
    case = _case(case_file)
    with _launched(ExecutorConfig(timeout_s=timeout, plugins=plugins, jobs=(REDUCE_JOB,)), [case], plugins) as ex, \
            Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("minimize", total=None)

        def shown(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"minimize: {'passes dropped' if phase == 'passes' else 'IR reductions tried'}",
                       completed=done, total=total or None)

        m = checked(Minimizer(ex, budget, on_progress=shown).minimize, case, errors=(ExecutorError,),
                    prefix="executor: ")
    if not m.reproduced:
        raise Fail(f"{case_file}: the case shows no bug on this TVM ({m.signature}); nothing to minimize")
    out_file = out_file or case_file.with_suffix(".min.json")
    save_case(m.case, out_file)
    click.echo(json.dumps({**m.record(), "out": str(out_file)}))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--timeout", default=30.0, show_default=True, help="Per-case wall-clock limit, seconds.")
@PLUGIN
def replay(paths, timeout, plugins) -> None:
    """Does each bug still reproduce on the installed TVM? CASE.json files or bug folders (bugs/<sig>/).

    A bug folder reproduces when its case is still a bug with the folder's signature; a case file when
    it is a bug at all. Exit code 0 when all reproduce, 1 otherwise.
    """
    items = [(p, _case(p / "case.json" if p.is_dir() else p), p.name if p.is_dir() else None) for p in paths]
    all_ok = True
    with _launched(ExecutorConfig(timeout_s=timeout, plugins=plugins), [c for _, c, _ in items], plugins) as ex:
        for p, case, expected in items:
            res = checked(ex.run, case, False, False, None, True, errors=(ExecutorError,), prefix="executor: ")
            v = judge(case, res)
            sig = signature(res) if v.is_bug else (f"{res.outcome} ({v.filter})" if v.filter else res.outcome)
            ok = v.is_bug and (expected is None or sig == expected)
            all_ok &= ok
            click.echo(f"{'REPRODUCES' if ok else 'GONE      '} {p}  ({sig})")
    sys.exit(0 if all_ok else 1)


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "md", "json"]),
              help="Which files to write (default: all three).")
@click.option("--issue", "issue", default=None, metavar="SIGNATURE",
              help="Print that bug's report.md (apache/tvm's bug template), ready to paste; a unique prefix will do.")
def report(out, formats, issue) -> None:
    """Write the campaign report of OUT into OUT/reports/ (index.html, summary.md, summary.json), or with
    --issue print one bug's report.md."""
    if not (out / "campaign.json").exists():
        raise Fail(f"{out} is not a campaign directory (no campaign.json)")
    if issue is not None:
        click.echo(checked(issue_report, out, issue), nl=False)
        return
    for path in write_reports(out, formats or ("html", "md", "json")):
        click.echo(str(path))


@main.command()
@click.option("--time", "time_", default="20m", show_default=True, help="Fuzzing budget: 120, 90s, 20m, 1h.")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Campaign directory, the job's artifact (default: tirfuzz-ci/<start time>).")
@click.option("--known-bugs", "--baseline", "known_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Known bugs (JSON written by --update-known-bugs): found again, they pass.")
@click.option("--update-known-bugs", "--update-baseline", "update", is_flag=True,
              help="Write the known-bugs file: tonight's bugs plus known ones that still reproduce.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JUnit XML: one testcase per signature, new ones failing.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--targets", default="llvm,c", show_default=True)
@SEEDS
@PLUGIN
@FILTERS
@FRESH
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Start from the cases in this folder (the built-in seeds when empty or new) and write the "
                   "night's corpus back, minimized.")
def ci(time_, out, known_file, update, junit, seed, targets, seed_names, plugins, filters, fresh, corpus_dir) -> None:
    """The nightly job: replay the known bugs, fuzz for --time, judge only new bugs.

    \b
    Exit code: 0 no new bug, 1 a new bug was found, 2 usage or environment error.
    Writes the JUnit XML (--junit), a Markdown summary to $GITHUB_STEP_SUMMARY when set, and the
    campaign directory (--out) to keep as an artifact.
    """
    if update and known_file is None:
        raise Fail("--update-known-bugs needs --known-bugs FILE (where to write it)")
    known = KnownBugs()
    if known_file is not None and (known_file.exists() or not update):
        known = checked(KnownBugs.load, known_file, errors=(KnownBugsError,))
    out = out or f"tirfuzz-ci/{time.strftime('%Y%m%d-%H%M%S')}"
    config = CampaignConfig(out=out, time_s=_duration(time_), seed=seed, targets=_targets(targets),
                            plugins=[str(Path(p).resolve()) for p in plugins], seeds=_seed_names(seed_names),
                            filters=_filters(filters), corpus_dir=str(corpus_dir) if corpus_dir else None,
                            fresh=fresh)
    runner = Executor(executor_config(config))
    store = CampaignDir(out)
    with _starting(runner):
        seed_set = _seed_set(config, _pool(plugins))
        checked(store.create, config_record(config), False, errors=(StoreError,))
    if seed_set is not None:
        store.write_json(SEEDS_FILE, seed_set.record(config.seeds))
    t0 = time.monotonic()
    if known.bugs:
        err_console.print(f"replaying {len(known.bugs)} known bugs")
    still, fixed = checked(replay_known, config, known, errors=(ExecutorError,), prefix="executor: ")
    campaign = make_campaign(config, store, False, Campaign, runner)
    checked(run_with_screen, campaign, out, False, errors=ENV_ERRORS)
    result, summary = finish_night(campaign, known, still, fixed, time.monotonic() - t0, junit, corpus_dir,
                                   known_file if update else None, on_event=err_console.print)
    click.echo(summary)
    click.echo(json.dumps({"new": result.new, "known": result.known, "fixed": result.fixed, "exit": result.exit_code}))
    sys.exit(result.exit_code)


@main.group()
def corpus() -> None:
    """Corpus maintenance (a corpus is a folder of case files, e.g. a campaign's OUT/corpus)."""


@corpus.command("minimize")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the kept cases here (default: replace FOLDER's cases in place).")
@click.option("--timeout", default=10.0, show_default=True, help="Per-case wall-clock limit, seconds.")
@PLUGIN
def corpus_minimize(folder, out_dir, timeout, plugins) -> None:
    """Keep the fewest cases that reach the same blocks of TVM (like afl-cmin), smallest cases first."""
    cases, bad = read_cases(folder)
    for line in bad:
        err_console.print(f"skipped unreadable case {line}")
    if not cases:
        raise Fail(f"{folder}: no readable case files (*.json)")
    config = ExecutorConfig(timeout_s=timeout, plugins=plugins, coverage="tvm")
    merged = checked(distill_corpus, cases, config, errors=(ExecutorError,), prefix="executor: ")
    write_corpus(merged.kept, out_dir or folder)
    click.echo(json.dumps({"total": merged.total, "kept": len(merged.kept), "blocks": merged.blocks,
                           "unreadable": len(bad), "out": str(out_dir or folder)}))


if __name__ == "__main__":  # pragma: no cover
    main()
