"""A first classification of every bug verdict of a foreign-corpus run: tool defect, invalid input, or TVM bug.

Each named rule matches the run's message (and the program's text) and says why. "invalid input"
also needs TVM's own `tvm.compile(mod, target="llvm")` (run.py `--standard`) to fail, unless the
rule names a reason that does not depend on the build (a test that calls an extern it defines at
run time, a program that reads out of bounds by design). A bug verdict no rule matches is listed as
"unclassified": read its test and decide by hand. The rules were written from reading each test.

    python bench/foreign/classify.py /work/runs/foreign/now.jsonl /work/runs/foreign/cases \
        --md bench/results/foreign-corpus.md
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import load, table  # noqa: E402

TOOL, INVALID, TVM = "tool defect", "invalid input", "TVM bug"
BEGIN, END = "<!-- classify.py:begin -->", "<!-- classify.py:end -->"

# (name, class, message regex, program-text regex or None, needs tvm.compile to fail too, reason)
RULES = [
    ("gpu-kernel-on-cpu", INVALID, r"not implemented|Unknown device id|WebGPUFallbackModule|"
     r"are used, but are not passed in as API arguments|are used, but are not|Module has no function",
     r"thread_binding|launch_thread|blockIdx|threadIdx|calling_conv\": 2|T\.env_thread|vthread|warp", True,
     "a GPU kernel (thread bindings / device calling convention) built for llvm/c; tvm.compile llvm refuses it too"),
    ("gpu-intrinsic-on-cpu", INVALID, r"unknown intrinsic .*(fragment|mma|ptx|warp|shfl)", None, True,
     "a tensor-core/GPU intrinsic the CPU backends have no lowering for; tvm.compile llvm refuses it too"),
    ("scalable-vectors-on-x86", INVALID, r"Scalable vector|scalable|vscale|SIGABRT", r"vscale", True,
     "scalable (SVE/RVV) vectors need an AArch64/RISC-V target; the x86 llvm target refuses them"),
    ("index-overflow-int32", INVALID, r"small.has_value\(\)", None, True,
     "buffers of 2^33 elements (32 GiB) with int32 indices, a test never meant to run; tvm.compile fails the same"),
    ("duplicate-symbol-diagnostic", INVALID, r"Duplicate PrimFunc global_symbol", None, True,
     "the test checks that duplicate global symbols are diagnosed: invalid by design"),
    ("undefined-extern", INVALID, r"Cannot find function|SIGSEGV|undefined symbol", r"call_(pure_)?extern|call_packed",
     False, "calls an extern function the test registers at run time; it does not exist in the test-less process"),
    ("private-entry", INVALID, r"Compilation error", r"private=True", True,
     "a private PrimFunc as the only function: tvm.compile refuses it (the entry func must be exposed "
     "externally); tirfuzz builds it and names the C function `main`, which gcc rejects"),
    ("tool-attribute-error", TOOL, r"dtype is only available on a Var", None, False,
     "input making reads `dtype` of a scalar parameter: tirfuzz's own code"),
]


# Verdicts given by hand after reading the test a case came from (case-name prefix -> class, reason).
HAND = {
    "meta_schedule_arg_info__Matmul": (INVALID, "reads A[vi, vk] and B[vk, vj] with vk < 512 on 256-long axes: "
                                       "out of bounds by design (the test only reads argument info); the UB check "
                                       "did not catch it"),
    "tir_transform_unroll_loop__test_unroll_loop_Module": (INVALID, "reads Ab[i] for i in [n, n+2) of an n-long "
                                                           "buffer and writes Ab[1..8]: out of bounds by design"),
    "tir_transform_bf16_legalize__": (TOOL, "bare T.handle parameters get a tvm.runtime.tensor, so the kernel receives a "
                                      "DLTensor* and writes 200 bytes over it (heap corruption); TVM's build run with "
                                      "raw data pointers (ctypes.c_void_p) is correct (exp(0) = 0x3F80)"),
    "tir_transform_split_host_device__": (INVALID, "host + CUDA kernel module: needs a CUDA device to run"),
    "target_codegen_webgpu__": (INVALID, "functions carry a WebGPU target: not runnable on the CPU (tvm.compile builds "
                                "a WebGPU module that cannot run from C++)"),
    "target_codegen__test_decl_buffer_offset": (TOOL, "a device kernel (calling_conv 2) alone: tvm.compile builds it "
                                                "with nothing callable; tirfuzz reports its lookup as a TVM internal "
                                                "error instead of rejecting a program with no entry"),
}


def classify(row: dict, ir: str) -> tuple[str, str, str]:
    """(class, rule name, reason) of one bug verdict."""
    for prefix, (cls, reason) in HAND.items():
        if row["case"].startswith(prefix):
            return cls, "by hand", reason
    text = f"{row.get('message') or ''} {row.get('signal') or ''}"
    stage = row.get("stage") or ""
    if row.get("standard") == "ok" and (stage.startswith("pass:") or stage == "build:llvm"):
        return TOOL, "completion-differs", ("tvm.compile llvm builds it; tirfuzz fails to build or load the unmodified program "
                                           "(its completion passes or entry lookup differ from TVM's own build)")
    for name, cls, msg, prog, needs_std, reason in RULES:
        if re.search(msg, text) and (prog is None or re.search(prog, ir)):
            if needs_std and row.get("standard") == "ok":
                continue  # TVM's own build works: the rule's excuse does not hold
            return cls, name, reason
    std = row.get("standard_message") or ""
    msg = (row.get("message") or "")[:60]
    if row.get("standard") == "error" and msg and msg in std:
        return INVALID, "same-as-tvm-compile", "tvm.compile llvm fails with the same error (invalid by design)"
    return "unclassified", "", "no rule: read the test"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="JSONL from run.py (with --standard)")
    ap.add_argument("cases", type=Path)
    ap.add_argument("--md", type=Path, help="markdown file whose classify.py block to (re)write")
    a = ap.parse_args()
    rows, counts = [], collections.Counter()
    for r in load(a.run):
        if r.get("verdict") != "bug":
            continue
        case = json.loads((a.cases / r["case"]).read_text())
        cls, name, reason = classify(r, case["ir"])
        counts[cls] += 1
        src = case.get("foreign", {})
        rows.append([r["case"][:60], f"{src.get('source', '?').removeprefix('tests/python/')} {src.get('name', '')}",
                     f"{r['outcome']} @ {r.get('stage')}", cls, name, reason])
    text = ("### Bug verdicts by class (" + a.run.stem + ")\n\n" + table(sorted(counts.items()), ["class", "cases"])
            + "\n\n" + table(rows, ["case", "test file, program", "outcome @ stage", "class", "rule", "reason"]))
    print(text)
    if a.md:
        old = a.md.read_text() if a.md.exists() else ""
        block = f"{BEGIN}\n{text}\n{END}"
        if BEGIN in old and END in old:
            old = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
        else:
            old = (old + "\n\n" if old else "") + block + "\n"
        a.md.write_text(old)


if __name__ == "__main__":
    main()
