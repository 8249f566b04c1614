"""Reading ID lists: formats, validation with file:line, de-duplication, hashing."""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import pytest

from crawler.errors import InputError
from crawler.inputs import ImageRef, InputReader, InvalidLine

P1 = "0123456789abcdef0123456789abcdef"
P2 = "fedcba9876543210fedcba9876543210"
I1 = "70a599e0-31e7-49b7-b260-868f441e862b"
I2 = "17a1890b-0fa4-485e-8505-14e294017988"


def read(path: Path, fmt: str = "auto") -> tuple[list[ImageRef | InvalidLine], InputReader]:
    reader = InputReader(str(path), fmt)  # type: ignore[arg-type]
    return list(reader), reader


def test_csv_with_region_duplicates_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    text = f"project_id,image_id,region\n{P1},{I1},eu-de\n\n{P1},{I1},eu-de\n{P2},{I2},\n"
    path.write_text(text)
    items, reader = read(path)
    assert items == [ImageRef(P1, I1, "eu-de"), ImageRef(P2, I2, None)]
    stats = reader.stats
    assert (stats.records, stats.unique, stats.duplicates, stats.invalid) == (3, 2, 1, 0)
    assert stats.format == "csv"
    assert stats.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_ids_are_normalised_so_case_variants_are_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(f"image_id,project_id\n{I1.upper()}, {P1.upper()} \n{I1},{P1}\n")
    items, reader = read(path)
    assert items == [ImageRef(P1, I1)]
    assert reader.stats.duplicates == 1


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"abc,{I1}", "project_id 'abc' is not 32 hexadecimal characters"),
        (f"{P1},not-a-uuid", "image_id 'not-a-uuid' is not a UUID"),
        (f"{P1}", "expected 2 fields, found 1"),
        (f",{I1}", "project_id is empty"),
        (f"{P1},{I1.replace('-', '')}", "is not a UUID"),
        (f"{P1}/../x,{I1}", "is not 32 hexadecimal characters"),
    ],
)
def test_invalid_csv_lines_name_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(f"project_id,image_id\n{P1},{I1}\n{line}\n")
    items, reader = read(path)
    assert items[0] == ImageRef(P1, I1)
    invalid = items[1]
    assert isinstance(invalid, InvalidLine)
    assert invalid.message.startswith(f"{path}:3: ")
    assert reason in invalid.message
    assert reader.stats.invalid == 1


def test_jsonl_lines_are_validated_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text(
        f'{{"project_id": "{P1}", "image_id": "{I1}", "region": "eu-nl"}}\n'
        "{broken\n"
        "[1, 2]\n"
        f'{{"project_id": "{P1}", "image_id": 5}}\n'
        f'{{"project_id": "{P2}", "image_id": "{I2}"}}\n'
    )
    items, reader = read(path)
    assert items[0] == ImageRef(P1, I1, "eu-nl")
    assert items[-1] == ImageRef(P2, I2)
    messages = [i.message for i in items if isinstance(i, InvalidLine)]
    assert [m.split(": ", 1)[0] for m in messages] == [f"{path}:{n}" for n in (2, 3, 4)]
    assert reader.stats.format == "jsonl"


def test_format_is_sniffed_when_the_suffix_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text(f'{{"project_id": "{P1}", "image_id": "{I1}"}}\n')
    assert read(path)[0] == [ImageRef(P1, I1)]


def test_missing_column_is_a_fatal_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(f"\nproject,image_id\n{P1},{I1}\n")
    with pytest.raises(InputError, match=rf"^{path}:2: CSV header lacks column 'project_id'"):
        read(path)


def test_missing_file_and_empty_file_are_fatal(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open input"):
        read(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="input is empty"):
        read(tmp_path / "empty.csv")


def test_a_non_utf8_line_is_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    bom = b"\xef\xbb\xbf"
    path.write_bytes(bom + f"project_id,image_id\n{P1}\xff,{I1}\n{P2},{I2}\n".encode("latin-1"))
    items, _ = read(path)
    assert items[1] == ImageRef(P2, I2)
    assert isinstance(items[0], InvalidLine)
    assert items[0].message == f"{path}:2: line is not valid UTF-8 text"


def test_stdin_is_read_with_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"project_id,image_id\n{P1},{I1}\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    reader = InputReader("-")
    assert list(reader) == [ImageRef(P1, I1)]
    assert reader.stats.sha256 == hashlib.sha256(data).hexdigest()
