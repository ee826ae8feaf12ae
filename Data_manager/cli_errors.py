"""Run a command-line ``main`` so that errors end as one line on stderr and an exit code.

Use: ``sys.exit(run_cli(main, usage_errors=(UnknownDataset,)))``; ``main(argv)`` returns
the exit code.

- ``UsageError`` or one of ``usage_errors`` (bad names or arguments): ``prog: error: message``, exit 2;
- ``CommandLineError`` or one of ``errors`` (an expected failure, e.g. a damaged input file):
  ``prog: error: message``, exit 1;
- ``KeyboardInterrupt``: ``prog: interrupted``, exit 130;
- any other exception: ``prog: error: ClassName: message`` and a hint, exit 1.

``RECZILLA_DEBUG=1`` (any value but empty or ``0``) adds the traceback.
"""

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

DEBUG_VARIABLE = "RECZILLA_DEBUG"


class UsageError(Exception):
    """A command line that cannot be run as given (exit code 2)."""


class CommandLineError(Exception):
    """An expected failure of a command, reported as its message alone (exit code 1)."""


def check_folder_argument(option: str, path) -> None:
    """``UsageError`` when the folder given as ``option`` (to use or create), or one above it, is a regular file."""
    path = Path(path)
    blocking = next((folder for folder in (path, *path.parents) if folder.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise UsageError(f"{option} {path}: {blocking} is a file, not a folder")


def debug_enabled() -> bool:
    """Whether ``RECZILLA_DEBUG`` asks for tracebacks."""
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def one_line(error: BaseException) -> str:
    """The exception's message on a single line."""
    return " ".join(str(error).split()) or type(error).__name__


def failure_detail(error: BaseException) -> str:
    """``ClassName: message`` on one line, for a failure a command reports and goes on after;
    the traceback goes to stderr when ``RECZILLA_DEBUG`` asks for it."""
    if debug_enabled():
        traceback.print_exception(error, file=sys.stderr)
    return f"{type(error).__name__}: {one_line(error)}"


def run_cli(
    main: Callable[[Sequence[str] | None], int],
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    usage_errors: tuple[type[BaseException], ...] = (),
    errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Call ``main(argv)`` and return its exit code, turning exceptions into one line on stderr.

    ``prog`` defaults to the running script's name (``run_experiment`` for
    ``python -m Experiment_handler.run_experiment``).
    """
    prog = prog or Path(sys.argv[0]).stem
    try:
        return main(argv)
    except (UsageError, *usage_errors) as error:
        caught, message, code = error, f"{prog}: error: {one_line(error)}", 2
    except (CommandLineError, *errors) as error:
        caught, message, code = error, f"{prog}: error: {one_line(error)}", 1
    except KeyboardInterrupt as error:
        caught, message, code = error, f"{prog}: interrupted", 130
    except Exception as error:
        caught, message, code = error, f"{prog}: error: {type(error).__name__}: {one_line(error)}", 1
        if not debug_enabled():
            message += f" (set {DEBUG_VARIABLE}=1 for the traceback)"
    if debug_enabled():
        traceback.print_exception(caught, file=sys.stderr)
    print(message, file=sys.stderr)
    return code
