"""Command-line plumbing shared by every tool, built on click.

- One-line errors: `prog: error: <message>` on stderr, exit status 2 for a bad command line (unknown or
  misspelled option, with the nearest valid name suggested; bad value; missing flag) and 1 for a bad
  file or a failed job. `--help` exits 0. A command names its library's own error classes in its
  `error_types` attribute (`with_error_types`), so that they are one line whichever way it is started
  (`python X.py`, `stylegan-tf X`); `--verbose` adds the traceback above the line.
- Boolean options (`bool_option`) take the usual spellings: `--flag`, `--flag=1`, `--flag 0`,
  `--flag=yes/no/true/false/on/off`, and absl's `--noflag`; a bare `--flag` never swallows the
  positional argument after it.
- Quiet TensorFlow: `import_tensorflow()` imports TensorFlow with its C++ start-up log (oneDNN and
  CUDA notices, `failed call to cuInit`, CPU-feature lines) captured and its Python loggers at ERROR,
  unless `--verbose` or STYLEGAN_TF_VERBOSE=1 asks for them. If the import fails, the captured log is
  shown with the error.

Nothing here imports TensorFlow at module level, so `--help` answers without it.
"""

import difflib
import os
import sys
import tempfile

import click

VERBOSE_ENV = "STYLEGAN_TF_VERBOSE"
BOOL_WORDS = ("1", "0", "true", "false", "t", "f", "yes", "no", "y", "n", "on", "off")


class CommandError(click.ClickException):
    """A failed job or a bad input file (exit status 1); the message is printed on one line."""


def is_verbose():
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def set_verbose(verbose):
    """Record the --verbose choice for this process and the processes it starts."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"


def import_tensorflow():
    """`import tensorflow`, quiet unless verbose (see the module docstring); returns the module."""
    if "tensorflow" in sys.modules or is_verbose():
        import tensorflow as tf
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no C++ log lines after start-up either (oneDNN notices are logged as errors)
    captured = tempfile.TemporaryFile()
    saved_fd = os.dup(2)
    try:
        sys.stderr.flush()
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()  # device discovery logs (cuInit) happen here
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
    except BaseException:
        captured.seek(0)
        sys.stderr.write(captured.read().decode("utf-8", "replace"))
        raise
    finally:
        os.close(saved_fd)
        captured.close()
    import logging
    tf.get_logger().setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass
    return tf


def suggestion(name, candidates):
    """' (did you mean X?)' for the candidate nearest to `name`, or ''."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return " (did you mean %s?)" % match[0] if match else ""


def check_choice(what, name, candidates):
    """Raise a one-line UsageError if `name` is not among `candidates`, suggesting the nearest."""
    if name not in candidates:
        raise click.UsageError("unknown %s %r%s" % (what, name, suggestion(name, candidates)))


def bool_option(*param_decls, default=False, help=None, **kwargs):
    """A click option that is a boolean flag and also takes a value (see the module docstring)."""
    return click.option(*param_decls, type=click.BOOL, is_flag=False, flag_value=True, default=default, metavar="[0|1]",
                        show_default=True, help=help, **kwargs)


_VERBOSE = dict(is_flag=True, default=False, expose_value=False, is_eager=True,
                callback=lambda ctx, param, value: set_verbose(value),
                help="Show TensorFlow's own start-up and log lines (or set %s=1)." % VERBOSE_ENV)
verbose_option = click.option("--verbose", **_VERBOSE)  # decorator form


def verbose_param():
    """--verbose as a click.Option, for commands built without decorators."""
    return click.Option(["--verbose"], **_VERBOSE)


def _bool_option_names(command):
    names = set()
    for param in command.params:
        if isinstance(param, click.Option) and param.type is click.BOOL and not param.is_flag:
            names.update(o for o in param.opts if o.startswith("--"))
    return names


def normalize_bool_args(command, args):
    """Rewrite boolean options to `--flag=value` so that click never takes a positional as their value."""
    names = _bool_option_names(command)
    out = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if arg in names:
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is not None and nxt.lower() in BOOL_WORDS:
                out.append("%s=%s" % (arg, nxt))
                i += 2
                continue
            out.append(arg + "=true")
        elif arg.startswith("--no") and "=" not in arg and "--" + arg[4:] in names:
            out.append("--%s=false" % arg[4:])
        else:
            out.append(arg)
        i += 1
    return out


def _select(command, args):
    """(the (sub)command that `args` select through nested groups, the arguments naming it, the rest)."""
    names = []
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(click.Context(command), args[0])
        if sub is None:
            break
        command, names, args = sub, names + args[:1], args[1:]
    return command, names, args


def _normalize(command, args):
    """normalize_bool_args for the (sub)command that `args` select; (that command, the new args)."""
    selected, names, rest = _select(command, args)
    return selected, names + (rest if isinstance(selected, click.Group) else normalize_bool_args(selected, rest))


def _one_line(text):
    return " ".join(str(text).split())


def with_error_types(command, error_types):
    """Attach the exception classes that `command` reports in one line (exit status 1): a tuple, or a
    function returning one (called only when an error occurs, so that `--help` imports nothing)."""
    command.error_types = error_types
    return command


def _error_types(*sources):
    types = ()
    for source in sources:
        source = source() if callable(source) and not isinstance(source, type) else source
        types += tuple(source or ())
    return types


def _report(prog, message, verbose_traceback=True):
    if verbose_traceback and is_verbose():
        import traceback
        traceback.print_exc()
    print("%s: error: %s" % (prog, _one_line(message)), file=sys.stderr)


def run(command, argv=None, prog_name=None, error_types=()):
    """Run a click command as a program: one-line errors, exit status 0/1/2, never a traceback for
    a bad command line or for one of `error_types` (the library's own error classes; or a function
    returning them, called only when an error occurs, so `--help` need not import their modules)."""
    args = list(sys.argv[1:] if argv is None else argv)
    prog = prog_name or os.path.basename(sys.argv[0] or command.name or "stylegan-tf")
    try:
        selected, args = _normalize(command, args)
    except click.ClickException:  # an unknown subcommand: click.main reports it
        selected = command
    try:
        result = command.main(args, prog_name=prog, standalone_mode=False)
        # (click >= 8.2 returns a ctx.exit(code) status from main() in non-standalone mode, not raising it)
        code = result if isinstance(result, int) and not isinstance(result, bool) else 0
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.exceptions.Abort:
        print("%s: interrupted" % prog, file=sys.stderr)
        code = 130
    except click.ClickException as e:
        _report(prog, e.format_message(), verbose_traceback=isinstance(e, CommandError))
        code = e.exit_code
    except KeyboardInterrupt:
        print("%s: interrupted" % prog, file=sys.stderr)
        code = 130
    except Exception as e:
        if not isinstance(e, _error_types(error_types, getattr(selected, "error_types", ()))):
            raise
        _report(prog, e)
        code = 1
    return code


def main(command, argv=None, prog_name=None, error_types=()):
    """`run` and exit with its status (the body of every tool's `main`)."""
    sys.exit(run(command, argv=argv, prog_name=prog_name, error_types=error_types))


def _renamed(command, script, name):
    """A copy of `command` (and of its subcommands) whose help says `name` where it says `python script` or
    `script`: the examples of `stylegan-tf train --help` read `stylegan-tf train ...`."""
    import copy
    command = copy.copy(command)
    if command.help:
        command.help = command.help.replace("python " + script, name).replace('"%s ' % script, '"%s ' % name)
    if isinstance(command, click.Group):
        command.commands = {k: _renamed(c, script, name) for k, c in command.commands.items()}
    return command


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when run: {name: ("module:attr", short help)}.
    `--help` lists them without importing any (so without TensorFlow)."""

    def __init__(self, *args, lazy_commands=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx, name):
        if name in self.lazy_commands:
            import importlib
            target, _ = self.lazy_commands[name]
            module_name, attr = target.split(":")
            return _renamed(getattr(importlib.import_module(module_name), attr), "%s.py" % module_name,
                            "%s %s" % (self.name, name))
        return super().get_command(ctx, name)

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and name not in self.list_commands(ctx) and not name.startswith("-"):
            raise click.UsageError("unknown command %r%s" % (name, suggestion(name, self.list_commands(ctx))))
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        rows = [(name, self.lazy_commands[name][1]) for name in sorted(self.lazy_commands)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
