"""``mesh contract validate | check | diff | export | import``.

Exit codes: 0 pass; 1 a result that fails (an error check, a breaking change, a gate failure on
sample data); 2 bad input (malformed contract, unknown product, a contract that does not match
its product's schema, non-read-only custom SQL). Bad input is detected before anything runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from snowmesh.cli import ui
from snowmesh.cli.ui import ConnectionOpt as Connection
from snowmesh.cli.ui import FormatOpt, RichReporter, console, err_console
from snowmesh.cli.ui import OutputOpt as Output
from snowmesh.cli.ui import ProjectOpt as Project
from snowmesh.errors import ContractViolation, InputError, MeshError, StepFailed


def _say(text: str) -> None:
    """Plain text (no markup, no wrapping): messages quote user values like [a, b] and get grepped."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _write(path: Path, text: str) -> None:
    """Atomic: a failed run never leaves a half-written contract behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _results_table(report, title: str) -> Table:
    table = Table("check", "column", "observed", "expected", "passed", "severity", title=title)
    for r in report.results:
        passed = "[green]yes[/]" if r.passed else ("[red]NO[/]" if r.severity == "error" else "[yellow]no[/]")
        table.add_row(
            escape(r.check),
            escape(r.column or ""),
            escape(r.observed),
            escape(r.expected),
            passed,
            r.severity,
        )
    return table


def _summary(report) -> str:
    failed = report.failures
    errors = [r for r in failed if r.severity == "error"]
    return (
        f"{len(report.results)} checks, {len(failed)} failed ({len(errors)} error, "
        f"{len(failed) - len(errors)} warn); {report.queries} data query"
    )


def validate(
    product: Annotated[str, typer.Argument(help="DOMAIN.PRODUCT or a unique product name.")],
    staged: Annotated[
        bool, typer.Option("--staged", help="Validate the STAGING candidate, not the published table.")
    ] = False,
    contract: Annotated[
        Path | None, typer.Option("--contract", help="Validate against this contract file instead.")
    ] = None,
    audit: Annotated[
        bool, typer.Option("--audit/--no-audit", help="Append the results to the audit table.")
    ] = True,
    fmt: FormatOpt = "text",
    project: Project = Path("."),
    connection: Connection = None,
) -> None:
    """Run the contract's schema and data checks (one aggregate query) against a product's table."""
    from governance.validate import AUDIT_TABLE, ValidationError, validate_table, write_audit
    from snowmesh.contracts.compare import report_dict
    from snowmesh.contracts.loading import check_matches_product, find_product, load_path, resolve
    from snowmesh.manifest import load_mesh
    from snowmesh.pipeline.steps import product_table, staging_table
    from snowmesh.target import open_target

    mesh = load_mesh(project)
    p = find_product(mesh, product)
    if contract is None:
        loaded = resolve(mesh, p.key)
    else:
        loaded = load_path(contract)
        check_matches_product(p, loaded.contract)
    table = staging_table(mesh, p) if staged else product_table(mesh, p)
    with open_target(mesh.root, connection) as target:
        try:
            report = validate_table(target.session, loaded.contract, table)
        except ValidationError as exc:
            raise StepFailed(str(exc).splitlines()[0], hint="run with --debug for the query") from exc
        if audit:
            write_audit(target.session, report)
    def show(_: object) -> None:
        console.print(_results_table(report, f"{p.key} v{loaded.contract.version} on {table}"))
        _say(_summary(report) + (f"; audit: {AUDIT_TABLE} run {report.run_id}" if audit else ""))

    ui.emit(report_dict(report), fmt, show)
    if not report.passed:
        if fmt != "json":
            hint = " (run `mesh run` first)" if any(r.check == "table_exists" for r in report.results) else ""
            err_console.print(f"[bold red]contract violated:[/] {p.key}{escape(hint)}", highlight=False)
        raise typer.Exit(1)


def check(
    project: Project = Path("."),
    clicks: Annotated[int, typer.Option("--clicks", "--rows", help="Sample ad clicks to generate.")] = 5_000,
    days: Annotated[int, typer.Option(help="Days of sample data.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed of the sample.")] = 42,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list non-breaking findings.")
    ] = False,
    fmt: FormatOpt = "text",
) -> None:
    """Pre-deploy gate: infer each handler's output schema on a scratch local account and diff it with its contract."""
    from snowmesh.contracts.gate import run_gate
    from snowmesh.landing import LandOptions

    if clicks < 100 or not 1 <= days <= 366:
        raise InputError("--clicks must be at least 100 and --days between 1 and 366")
    report = run_gate(project.resolve(), RichReporter(), LandOptions(clicks=clicks, seed=seed, days=days))
    ui.emit(gate_dict(report), fmt, lambda _: _print_gate(report, verbose))
    if report.exit_code == 2:
        raise InputError(
            "contract gate failed: a handler's output schema does not match its contract",
            hint="restore the column, or publish a new major contract version (contracts/.../v<N+1>.json)",
        )
    if report.exit_code:
        raise ContractViolation("contract gate failed on sample data")
    if fmt == "text":
        _say(f"contract gate passed: {len(report.products)} products match their contracts")


def gate_dict(report) -> dict:
    """The gate's report as data: ``mesh contract check --format json`` (docs/cli-json.md)."""
    return {
        "ok": report.ok, "exit_code": report.exit_code, "problems": report.problems(),
        "products": [{
            "product": g.product, "contract_version": g.contract_version, "ok": g.ok,
            "schema": None if g.skipped or g.error else ("breaks" if g.breaking else "matches"),
            "data": None if g.breaking or g.skipped or g.error else ("fails" if g.data_failures else "passes"),
            "observed": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in g.observed],
            "findings": [{"kind": f.kind, "column": f.column, "message": f.message, "breaking": f.breaking}
                         for f in g.findings],
            "data_failures": list(g.data_failures), "published": g.published, "skipped": g.skipped or None,
            "error": g.error or None,
        } for g in report.products],
    }


def _print_gate(report, verbose: bool) -> None:
    table = Table(
        "product", "contract", "columns", "schema", "sample data", "published", title="contract gate"
    )
    for g in report.products:
        schema = "-" if g.skipped or g.error else ("[red]BREAKS[/]" if g.breaking else "[green]matches[/]")
        if g.warnings and not g.breaking:
            schema += f" ({len(g.warnings)} note{'s' if len(g.warnings) > 1 else ''})"
        data = (
            "-"
            if g.breaking or g.skipped or g.error
            else ("[red]FAILS[/]" if g.data_failures else "[green]passes[/]")
        )
        table.add_row(
            g.product,
            f"v{g.contract_version}",
            str(len(g.observed) or "-"),
            schema,
            data,
            "yes" if g.published else "no",
        )
    console.print(table)
    if verbose:
        for g in report.products:
            for f in g.warnings:
                _say(f"note: {g.product.split('.')[-1]}: {f.message}")
    for line in report.problems():
        _say(line)


def diff(
    old: Annotated[Path, typer.Argument(help="The current contract file.")],
    new: Annotated[Path, typer.Argument(help="The proposed contract file.")],
    fmt: FormatOpt = "text",
    verify: Annotated[
        bool, typer.Option("--verify", help="Check tightened guarantees against the published data.")
    ] = False,
    allow_breaking: Annotated[
        bool,
        typer.Option("--allow-breaking", help="Accept breaking changes that come with a major version bump."),
    ] = False,
    project: Project = Path("."),
    connection: Connection = None,
) -> None:
    """Classify the changes between two contract versions from the consumer's side; check the semver bump."""
    from governance.diff import title_problem
    from snowmesh.contracts.compare import diff as do_diff
    from snowmesh.contracts.compare import outcome_dict, verify_table
    from snowmesh.contracts.loading import load_path

    try:
        loaded = [load_path(old), load_path(new)]
        for one in loaded:
            problem = title_problem(one.contract)
            if problem:  # the gate refuses such a file as bad input: so does the diff
                raise InputError(f"{one.path}: $.title: {problem}", hint="a product's title is its name")
        outcome = do_diff(loaded[0], loaded[1], allow_breaking)
        if verify and outcome.needs_verification and outcome.breaking_ok and outcome.diff.semver_ok:
            from governance.validate import validate_table
            from snowmesh.manifest import load_mesh
            from snowmesh.target import open_target

            mesh = load_mesh(project)
            table = verify_table(mesh, outcome)
            with open_target(mesh.root, connection) as target:  # read-only: no audit row for a proposal
                outcome.verification = validate_table(target.session, outcome.new.contract, table)
    except MeshError as exc:
        if fmt == "json":  # a script reading stdout gets JSON either way (the line also goes to stderr)
            verdict = "bad input" if exc.exit_code == 2 else "error"
            ui.write_json(ui.error_document(exc, verdict=verdict, exit_code=exc.exit_code))
        raise
    if fmt == "json":
        ui.write_json(outcome_dict(outcome))
        raise typer.Exit(outcome.exit_code)
    d = outcome.diff
    _say(
        f"{outcome.product}: {d.old_version} -> {d.new_version} ({d.actual_bump} bump; "
        f"the changes need {d.required_bump})"
    )
    for c in d.changes:
        _say(f"  [{c.klass}] {c.detail}" + ("  (must hold on current data)" if c.verify_on_data else ""))
    if not d.changes:
        _say("  no changes")
    if outcome.verification is not None:
        v = outcome.verification
        _say(f"verified on {v.table}: " + ("current data meets the new contract" if v.passed else "FAILED"))
        for r in v.failures:
            if r.severity == "error":
                _say(
                    f"  {r.check}{'(' + r.column + ')' if r.column else ''}: observed {r.observed}, "
                    f"expected {r.expected}"
                )
    elif outcome.needs_verification and outcome.exit_code == 0:
        _say("note: tightened guarantees must hold on current data: run with --verify before publishing")
    message = outcome.semver_message() if not d.semver_ok else ""
    if message:
        _say(message)
    _say(f"result: {outcome.verdict}")
    raise typer.Exit(outcome.exit_code)


def export(
    ref: Annotated[str, typer.Argument(help="DOMAIN.PRODUCT, a product name, or a contract file path.")],
    fmt: Annotated[
        str, typer.Option("--format", help="Export format (odcs: Open Data Contract Standard v3.1.0).")
    ] = "odcs",
    output: Output = None,
    project: Project = Path("."),
) -> None:
    """Write a contract as Open Data Contract Standard v3 YAML."""
    from snowmesh.contracts.loading import load_path, looks_like_path, resolve
    from snowmesh.contracts.odcs import dump_yaml, export_warnings, to_odcs

    if fmt != "odcs":
        raise InputError(f"--format must be odcs, got {fmt!r}")
    if looks_like_path(ref):
        loaded = load_path(Path(ref))
    else:
        from snowmesh.manifest import load_mesh

        loaded = resolve(load_mesh(project), ref)
    text = dump_yaml(to_odcs(loaded.doc, str(loaded.path)))
    for warning in export_warnings(loaded.doc):  # promises ODCS tools will not test
        err_console.print(f"[yellow]warning:[/] {escape(f'{loaded.path}: {warning}')}", highlight=False)
    if output is None:
        typer.echo(text, nl=False)
    else:
        _write(output, text)
        _say(f"wrote {output} (ODCS v3.1.0)")


def import_(
    file: Annotated[Path, typer.Argument(help="An ODCS v3.0.x or v3.1.x YAML (or JSON) file.")],
    output: Output = None,
    fmt: Annotated[str, typer.Option("--format", help="Input format (odcs).")] = "odcs",
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="Import even if some ODCS guarantees cannot be represented.")
    ] = False,
    domain: Annotated[
        str | None, typer.Option("--domain", help="The owning domain, if the document has none.")
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="The owner, if the document's team has no role: owner.")
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="The table to import from a multi-table schema.")
    ] = None,
    normalize_names: Annotated[
        bool,
        typer.Option("--normalize-names", help="Upper-case names (source names kept in x-odcs.name)."),
    ] = False,
) -> None:
    """Read an ODCS v3 contract into this project's JSON Schema contract format."""
    from snowmesh.contracts.odcs_import import ImportOptions, from_odcs, load_yaml
    from snowmesh.readers import read_text

    if fmt != "odcs":
        raise InputError(f"--format must be odcs, got {fmt!r}")
    opts = ImportOptions(domain=domain, owner=owner, table=table, normalize_names=normalize_names)
    result = from_odcs(load_yaml(read_text(file), str(file)), str(file), opts)
    if result.lossy and not allow_lossy:
        raise InputError(
            f"{file}: {len(result.lossy)} guarantee(s) cannot be represented:\n"
            + "\n".join(f"{file}: {item}" for item in result.lossy),
            hint="change the ODCS file, or pass --allow-lossy to import without them",
        )
    for item in [*(f"lost: {i}" for i in result.lossy), *result.notes]:
        err_console.print(f"[yellow]warning:[/] {escape(f'{file}: {item}')}", highlight=False)
    major = result.doc["x-product"]["version"].split(".")[0]
    if (
        output is not None
        and output.stem.startswith("v")
        and output.stem[1:].isdigit()
        and output.stem[1:] != major
    ):
        raise InputError(
            f"{output}: the contract is version {result.doc['x-product']['version']}; "
            f"name the file v{major}.json"
        )
    text = json.dumps(result.doc, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        _write(output, text)
        _say(f"wrote {output}")


def register(app: typer.Typer) -> None:
    contract_app = typer.Typer(
        help="Data contracts: validate data, gate handlers before deploy, diff versions, ODCS export/import.",
        no_args_is_help=True,
    )
    contract_app.command("validate")(validate)
    contract_app.command("check")(check)
    contract_app.command("diff")(diff)
    contract_app.command("export")(export)
    contract_app.command("import")(import_)
    app.add_typer(contract_app, name="contract")
