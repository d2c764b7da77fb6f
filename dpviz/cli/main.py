"""The command line's parser and its one exit path: bad arguments exit 2 with one line naming the field."""

from __future__ import annotations

import argparse
import sys

from dpviz.cli import export, privacy, runs, statement, train, tune, verify
from dpviz.validation import ValidationError

EXIT_USAGE = 2
COMMAND_FAMILIES = (privacy, statement, train, tune, verify, runs, export)


class UsageError(Exception):
    pass


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default (or says it is required, or off unless given)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "%(default)" in text
            or "default" in text
            or action.default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        if action.required:
            return f"{text} (required)"
        if isinstance(action, argparse._StoreTrueAction):
            return f"{text} (default: off)"
        if action.default is None:
            return f"{text} (default: none)"
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line instead of usage plus message."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dpviz", description="Explore DP-SGD's privacy-utility trade-off.")
    parser.add_argument(
        "--home", default=None, help="data directory for the run store (default: $DPVIZ_HOME or ~/.dpviz)"
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's and CUDA's own log lines on stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for family in COMMAND_FAMILIES:
        family.register(sub)
    return parser


def quiet_libraries(*, verbose: bool) -> None:
    """Unless `verbose`, keep TensorFlow's C++ and Python logging (e.g. "failed call to cuInit ... (303)" on
    a machine without a GPU) off stderr; it is set before TensorFlow loads, so it binds."""
    import os

    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def _positionals(parser: argparse.ArgumentParser) -> set[str]:
    """Every positional argument's name, in any subcommand: these are named as they are, without `--`."""
    names = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                names |= _positionals(child)
        elif not action.option_strings:
            names.add(action.dest)
    return names


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        quiet_libraries(verbose=args.verbose)
        if args.home is not None and not args.home.strip():
            raise ValidationError("home", "must be a directory path, got an empty string")
        return args.func(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as err:
        name = err.field if err.field in _positionals(parser) else f"--{err.field.replace('_', '-')}"
        print(f"error: {name}: {err.message}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # the last net: a file or directory the command could not use
        where = f" ({str(err.filename)[:80]})" if err.filename else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return EXIT_USAGE


def run() -> None:
    """Console-script entry point (`dpviz ...`), the same as `python -m dpviz ...`."""
    sys.exit(main())
