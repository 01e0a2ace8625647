"""Shared shape of `gonghui <area> <verb>` commands: subcommands, exit 2 with one line on bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class UsageError(Exception):
    """Bad input from the command line or a file: the command exits 2 with this one-line reason."""


class AreaCommand(BaseCommand):
    """A management command whose first argument is a verb: `gonghui orgs import FILE`.

    Subclasses define `verbs = {"import": ("help text", add_arguments_fn, handler_method_name)}`.
    Domain errors (subclasses of `UsageError` or `ValueError`) become exit code 2 with one line.
    """

    verbs: dict[str, tuple[str, Callable[[Any], None] | None, str]] = {}

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
        for verb, (help_text, add_args, _handler) in self.verbs.items():
            verb_parser = sub.add_parser(verb, help=help_text, description=help_text)
            # Subparsers built by CommandParser need the same error behaviour (exit 2, not a traceback).
            verb_parser.called_from_command_line = getattr(parser, "called_from_command_line", None)
            if add_args:
                add_args(verb_parser)

    def handle(self, *args, verb: str, **options):
        handler = getattr(self, self.verbs[verb][2])
        try:
            return handler(**options)
        except (UsageError, ValueError) as exc:
            raise CommandError(one_line(exc), returncode=2) from exc


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__
