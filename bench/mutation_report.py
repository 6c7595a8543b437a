"""Summarise a `mutmut run` for `make mutate`: per rule module, the mutants and the kill ratio.

Reads mutmut's own results (mutants/<path>.meta, one exit code per mutant) and prints, for each
module of [tool.mutmut] only_mutate (or only those given as arguments, e.g. `billing/rules.py`),
total / killed / survived / timeout / no tests and the kill ratio (killed / total), then each
surviving mutant with the line it changes (`mutmut show <name>` gives the full diff).

    python -m bench.mutation_report [path/to/module.py ...]

Read it after a run that finished: mutmut 3.8 records a mutant still in flight as survived (exit
code 0) when the run is interrupted, so an interrupted run's survivors must be re-run.
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), kept here so the report
# can be read without importing mutmut.
STATUS_BY_EXIT_CODE = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "caught by type check",
    None: "not checked",
}


def rule_modules() -> list[str]:
    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def results(module: str) -> dict[str, int | None]:
    meta = Path("mutants") / f"{module}.meta"
    if not meta.exists():
        return {}
    return json.loads(meta.read_text())["exit_code_by_key"]


def function_lines(module: str) -> dict[str, tuple[int, int]]:
    """The line span of every function and method of the (unmutated) module, by name."""
    tree = ast.parse(Path(module).read_text())
    spans = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans.setdefault(node.name, (node.lineno, node.end_lineno or node.lineno))
    return spans


def function_name(mutant: str) -> str:
    """`billing.rules.x_price__mutmut_3` -> `price`; `...xǁPlanǁcost__mutmut_1` -> `cost`."""
    generated = mutant.rpartition(".")[-1].rpartition("__mutmut_")[0]
    return generated.split("ǁ")[-1] if "ǁ" in generated else generated.removeprefix("x_")


def where(module: str, mutant: str, source: list[str], spans: dict[str, tuple[int, int]]) -> str:
    """`module:line  old -> new` for one mutant, from mutmut's diff of the function."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        diff = get_diff_for_mutant(mutant, path=module).splitlines()
    except Exception as exc:  # the mutants/ copy may predate the working tree's version
        return f"{module} ({function_name(mutant)}): no diff ({exc.__class__.__name__})"
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    start, end = spans.get(function_name(mutant), (1, len(source)))
    line_no = "?"
    if removed:
        for number in range(start, end + 1):
            if source[number - 1].strip() == removed[0].strip():
                line_no = str(number)
                break
    old = removed[0].strip() if removed else ""
    new = added[0].strip() if added else ""
    return f"{module}:{line_no} ({function_name(mutant)})  {old}  ->  {new}"


def main(argv: list[str]) -> int:
    modules = argv or rule_modules()
    print(
        f"{'module':38} {'total':>6} {'killed':>7} {'survived':>9} {'timeout':>8} {'no tests':>9} {'ratio':>7}"
    )
    survivors: list[tuple[str, str]] = []
    for module in modules:
        codes = results(module)
        counts = Counter(STATUS_BY_EXIT_CODE.get(code, "suspicious") for code in codes.values())
        total = len(codes)
        ratio = f"{counts['killed'] / total:.1%}" if total else "—"
        print(
            f"{module:38} {total:>6} {counts['killed']:>7} {counts['survived']:>9} {counts['timeout']:>8} "
            f"{counts['no tests']:>9} {ratio:>7}"
        )
        if counts["not checked"]:
            print(f"  ({counts['not checked']} not checked yet: the run was interrupted or limited)")
        survivors += [(module, name) for name, code in sorted(codes.items()) if code == 0]
    if survivors:
        print("\nSurviving mutants (`.venv/bin/mutmut show <name>` for the diff):")
        cache: dict[str, tuple[list[str], dict]] = {}
        for module, name in survivors:
            if module not in cache:
                cache[module] = (Path(module).read_text().splitlines(), function_lines(module))
            print(f"  {name}\n      {where(module, name, *cache[module])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
