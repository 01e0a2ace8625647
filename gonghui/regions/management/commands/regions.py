"""`gonghui regions load [FILE]`: load a division table (default: the shipped Jiamusi table)."""

from __future__ import annotations

from pathlib import Path

from gonghui.lib.cli import AreaCommand
from gonghui.regions.services import regions_load_csv

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "data" / "jiamusi.csv"


def _load_arguments(parser):
    parser.add_argument(
        "file",
        nargs="?",
        default=str(DEFAULT_TABLE),
        help="CSV with code,name,level,parent_code[,is_demo] (default: the shipped Jiamusi table)",
    )


class Command(AreaCommand):
    help = "Administrative divisions: load a division table."
    verbs = {
        "load": (
            "Load a division table, all or nothing; prints created / updated / unchanged counts.",
            _load_arguments,
            "load",
        ),
    }

    def load(self, *, file: str, **options):
        if not Path(file).is_file():
            raise ValueError(f"找不到文件 {file}")
        report = regions_load_csv(source=file)
        self.stdout.write(str(report))
