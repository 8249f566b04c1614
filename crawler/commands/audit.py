"""``crawler audit [SNAPSHOT]``: check a snapshot's images against a policy (``crawler.audit``).

Exit codes: 0 no finding at or above ``--fail-on`` (always with ``never``), 2 the policy, the
lifecycle file or a flag is invalid, 3 the snapshot cannot be read or the findings written,
5 findings at or above ``--fail-on``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import click

from crawler.audit import SEVERITIES, AuditResult, audit_snapshot, load_policy
from crawler.catalog import resolve_snapshot
from crawler.cliutil import lifecycle_option, output_option, reports_errors, snapshot_argument

EXIT_FINDINGS: Final = 5
NEVER: Final = "never"


def _aligned(rows: list[tuple[str, ...]], numeric_from: int) -> list[str]:
    """Rows as text columns: text left-aligned, columns from ``numeric_from`` right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i >= numeric_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _summary(result: AuditResult, severities: dict[str, str]) -> list[str]:
    rules: list[tuple[str, ...]] = [("rule", "severity", "findings")]
    rules += [(rule, severities[rule], str(n)) for rule, n in result.by_rule.items()]
    lines = [*_aligned(rules, 2), ""]
    worst_first = tuple(reversed(SEVERITIES))
    projects = sorted(
        result.by_project.items(),
        key=lambda item: ([-item[1][s] for s in worst_first], item[0]),
    )
    if projects:
        table: list[tuple[str, ...]] = [("project", *worst_first, "total")]
        table += [
            (project, *(str(c[s]) for s in worst_first), str(sum(c.values())))
            for project, c in projects
        ]
        lines += [*_aligned(table, 1), ""]
    return lines


@click.command()
@snapshot_argument
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("configs/policy.yaml"),
    show_default=True,
    metavar="FILE",
    help="Policy YAML (rules; see configs/policy.yaml).",
)
@output_option
@click.option(
    "--fail-on",
    type=click.Choice([*SEVERITIES, NEVER]),
    default=NEVER,
    show_default=True,
    help="Exit 5 when a finding has this severity or a higher one.",
)
@lifecycle_option("CSV of EOL dates (distro,release,eol,source,note) that win over the snapshot's.")
@reports_errors
def audit(
    snapshot: str | None,
    policy_path: Path,
    output_dir: Path,
    fail_on: str,
    lifecycle_path: Path | None,
) -> None:
    """Check a snapshot's images against a policy and write its findings.

    SNAPSHOT is a snapshot directory, a run id, `latest` (the default) or `previous`.
    Writes findings.parquet, findings.csv and audit.json into the snapshot directory and
    prints the findings per rule and per project.

    \b
    Exit codes:
      0  no finding at or above --fail-on (always with --fail-on never)
      2  invalid policy, lifecycle file or flag, or no such snapshot
      3  the snapshot cannot be read, or the findings cannot be written
      5  findings at or above --fail-on
    """
    policy = load_policy(policy_path)  # a bad policy fails before the snapshot is touched
    directory = resolve_snapshot(output_dir, snapshot)
    result = audit_snapshot(directory, policy, lifecycle_override=lifecycle_path)
    click.echo(f"snapshot: {directory}")
    click.echo(f"as of:    {result.as_of.isoformat()}")
    click.echo(f"images:   {result.images}")
    click.echo(f"findings: {result.findings.num_rows}")
    click.echo("")
    for line in _summary(result, {rule.id: rule.severity for rule in policy.rules}):
        click.echo(line)
    click.echo(f"written:  {result.files[0]}")
    if fail_on != NEVER and (failing := result.at_or_above(fail_on)):
        click.echo(f"{failing} findings at or above {fail_on}: exit {EXIT_FINDINGS}", err=True)
        sys.exit(EXIT_FINDINGS)
