"""The end-of-life table: row validation, lookup order, the EOL boundary, the packaged CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest

from crawler.errors import ConfigError
from crawler.lifecycle_data import (
    LIFECYCLE_COMPILED,
    load_lifecycle,
    packaged_lifecycle,
    parse_lifecycle_csv,
    read_lifecycle_csv,
)
from crawler.normalize.lifecycle import Lifecycle, LifecycleEntry

HEADER = "distro,release,eol,source,note\n"
URL = "https://example.com/lifecycle"


def table(*rows: str) -> Lifecycle:
    return parse_lifecycle_csv(HEADER + "".join(f"{row}\n" for row in rows), "t.csv")


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (f",7,2024-06-30,{URL},", "distro is missing"),
        (f"RHEL,7,2024-06-30,{URL},", "distro 'RHEL'"),
        (f"rhel,,2024-06-30,{URL},", "release is missing"),
        (f"sles,15  SP1,2024-06-30,{URL},", "release '15  SP1'"),
        (f"rhel,7,2024-6-30,{URL},", "eol '2024-6-30'"),
        (f"rhel,7,2024-02-30,{URL},", "eol '2024-02-30'"),
        (f"rhel,7,20240630,{URL},", "eol '20240630'"),
        ("rhel,7,2024-06-30,http://example.com,", "source 'http://example.com'"),
        ("rhel,7,2024-06-30,,", "source is missing"),
        (f"rhel,7,2024-06-30,{URL},note,extra", "more cells than the header"),
    ],
)
def test_a_bad_row_names_file_line_and_field(row: str, field: str) -> None:
    good = f"ubuntu,22.04,2027-04-30,{URL},fine"
    with pytest.raises(ConfigError) as caught:
        table(good, row)
    assert str(caught.value).startswith("t.csv:3: ")
    assert field in str(caught.value)


def test_line_numbers_count_blank_lines() -> None:
    text = f"{HEADER}\nubuntu,22.04,2027-04-30,{URL},\n\nrhel,7,bad,{URL},\n"
    with pytest.raises(ConfigError, match=r"^t\.csv:5: eol 'bad'"):
        parse_lifecycle_csv(text, "t.csv")


def test_a_duplicate_key_names_both_lines() -> None:
    with pytest.raises(
        ConfigError, match=r"t\.csv:4: duplicate row for rhel 7 \(first on line 2\)"
    ):
        table(f"rhel,7,2024-06-30,{URL},", f"rhel,8,2029-05-31,{URL},", f"rhel,7,2024-06-30,{URL},")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"t\.csv:1: empty file"),
        ("distro,release,source\n", r"t\.csv:1: the header has no column 'eol'"),
        (f"{HEADER.strip()},vendor\n", r"t\.csv:1: unknown column 'vendor'"),
    ],
)
def test_a_bad_header_names_line_1(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_lifecycle_csv(text, "t.csv")


def test_from_rows_numbers_rows_after_the_header_by_default() -> None:
    rows = [{"distro": "rhel", "release": "7", "eol": "2024-06-30", "source": URL, "note": ""}]
    rows.append({**rows[0], "release": "8", "eol": "soon"})
    with pytest.raises(ConfigError, match=r"^rows:3: eol 'soon'"):
        Lifecycle.from_rows(rows, "rows")
    with pytest.raises(ConfigError, match=r"^rows:12: eol 'soon'"):
        Lifecycle.from_rows(rows, "rows", lines=[10, 12])


def test_note_may_be_left_out() -> None:
    lifecycle = parse_lifecycle_csv(f"distro,release,eol,source\nrhel,7,2024-06-30,{URL}\n", "t")
    assert lifecycle.get("rhel", "7") == LifecycleEntry("rhel", "7", date(2024, 6, 30), URL, "")


# --- lookup -------------------------------------------------------------------------------

LOOKUP = table(
    f"rhel,7,2024-06-30,{URL},major",
    f"rhel,7.9,2024-07-01,{URL},exact",
    f"sles,15,2031-07-31,{URL},line",
    f"sles,15 SP1,2021-01-31,{URL},sp",
    f"windows-server,2012 R2,2023-10-10,{URL},r2",
    f"coreos,*,2020-05-26,{URL},all",
    f"ubuntu,16.04,2021-04-30,{URL},lts",
)


@pytest.mark.parametrize(
    ("distro", "release", "major", "note"),
    [
        ("rhel", "7.9", 7, "exact"),  # the exact release beats its major
        ("rhel", "7.6", 7, "major"),  # a minor without a row takes the major's
        ("rhel", "7", 7, "major"),
        ("rhel", None, 7, "major"),
        ("sles", "15 SP1", 15, "sp"),
        ("sles", "15 SP3", 15, "line"),  # an SP without a row takes the line's
        ("windows-server", "2012 R2", 2012, "r2"),
        ("coreos", "1298.6.0", 1298, "all"),  # the distro-wide row
        ("coreos", None, None, "all"),
        ("ubuntu", "16.04", 16, "lts"),
        ("ubuntu", "16.10", 16, None),  # no "16" row: unknown, not 16.04's date
        ("rhel", "6.10", 6, None),
        ("centos", "7.6", 7, None),  # another distro's rows never apply
        (None, "7.6", 7, None),
        ("windows-server", "2012", 2012, None),  # "2012 R2" is not "2012"
    ],
)
def test_lookup_order(
    distro: str | None, release: str | None, major: int | None, note: str | None
) -> None:
    entry = LOOKUP.eol_for(distro, release, major)
    assert (entry.note if entry else None) == note


def test_status_the_eol_day_is_still_supported() -> None:
    eol = date(2024, 6, 30)
    assert LOOKUP.status("rhel", "7.6", 7, date(2024, 6, 29)) == (eol, False)
    assert LOOKUP.status("rhel", "7.6", 7, eol) == (eol, False)
    assert LOOKUP.status("rhel", "7.6", 7, date(2024, 7, 1)) == (eol, True)
    assert LOOKUP.status("ubuntu", "16.10", 16, date(2030, 1, 1)) == (None, None)


def test_overlaid_replaces_and_extends() -> None:
    other = table(f"rhel,7,2028-06-30,{URL},els", f"almalinux,9,2032-05-31,{URL},new")
    merged = LOOKUP.overlaid(other)
    assert merged.eol_for("rhel", "7.6", 7).eol == date(2028, 6, 30)
    assert merged.eol_for("almalinux", "9.3", 9).note == "new"
    assert merged.eol_for("rhel", "7.9", 7).note == "exact"
    assert len(merged) == len(LOOKUP) + 1
    assert LOOKUP.eol_for("rhel", "7.6", 7).eol == date(2024, 6, 30)


# --- files --------------------------------------------------------------------------------


def test_an_override_file_replaces_a_packaged_row(tmp_path: Path) -> None:
    extra = tmp_path / "mine.csv"
    extra.write_text(f"{HEADER}centos,7,2028-06-30,{URL},vendor ELS\n", encoding="utf-8")
    merged = load_lifecycle(extra)
    assert merged.status("centos", "7.9", 7, date(2026, 11, 27)) == (date(2028, 6, 30), False)
    assert load_lifecycle().status("centos", "7.9", 7, date(2026, 11, 27)) == (
        date(2024, 6, 30),
        True,
    )
    assert len(merged) == len(packaged_lifecycle())


def test_override_file_errors_name_the_file(tmp_path: Path) -> None:
    extra = tmp_path / "mine.csv"
    extra.write_text(f"{HEADER}centos,7,2028-13-01,{URL},\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{extra}:2: eol '2028-13-01'"):
        load_lifecycle(extra)
    with pytest.raises(ConfigError, match="cannot read"):
        read_lifecycle_csv(tmp_path / "absent.csv")
    extra.write_bytes(b"distro,release,eol,source\n\xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_lifecycle_csv(extra)


def _packaged_rows() -> list[dict[str, str]]:
    text = (files("crawler") / "data" / "lifecycle.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_packaged_rows_have_https_sources_and_valid_dates() -> None:
    rows = _packaged_rows()
    assert rows
    for row in rows:
        assert list(row) == ["distro", "release", "eol", "source", "note"], row
        assert row["source"].startswith("https://"), row
        assert date.fromisoformat(row["eol"]).isoformat() == row["eol"], row
        assert row["note"].strip(), row  # every row names its support phase
    assert len(packaged_lifecycle()) == len(rows)  # and it parses


def test_packaged_keys_are_unique() -> None:
    keys = [(row["distro"], row["release"]) for row in _packaged_rows()]
    assert len(keys) == len(set(keys))


COVERED = {
    "rhel": ("6", "7", "8", "9"),
    "centos": ("6", "7", "8"),
    "oraclelinux": ("6", "7", "8", "9"),
    "ubuntu": ("14.04", "16.04", "18.04", "19.04", "20.04", "22.04", "24.04"),
    "debian": ("8", "9", "10", "11", "12"),
    "sles": ("11", "12", "15", "11 SP4", "12 SP5", *(f"15 SP{n}" for n in range(1, 7))),
    "opensuse": ("42.3", *(f"15.{n}" for n in range(1, 7))),
    "fedora": tuple(str(n) for n in range(22, 41)),
    "windows-server": ("2008", "2008 R2", "2012", "2012 R2", "2016", "2019", "2022"),
    "windows": ("7", "10"),
    "coreos": ("*",),
}


@pytest.mark.parametrize("distro", sorted(COVERED))
def test_packaged_table_covers(distro: str) -> None:
    missing = [r for r in COVERED[distro] if packaged_lifecycle().get(distro, r) is None]
    assert not missing


def test_known_dates() -> None:
    lifecycle = packaged_lifecycle()
    assert lifecycle.get("centos", "8").eol == date(2021, 12, 31)
    assert lifecycle.get("coreos", "*").eol == date(2020, 5, 26)
    assert lifecycle.get("rhel", "7").eol == date(2024, 6, 30)
    assert date(2026, 11, 27) == LIFECYCLE_COMPILED


def test_the_pure_module_does_no_io() -> None:
    source = Path(__file__).parents[1] / "crawler" / "normalize" / "lifecycle.py"
    text = source.read_text(encoding="utf-8")
    for word in ("open(", "importlib", "pathlib", "read_text"):
        assert word not in text
