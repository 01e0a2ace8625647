"""`gonghui <area> <verb>`: the project's command line. Django's own commands run through it too."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["gonghui", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
