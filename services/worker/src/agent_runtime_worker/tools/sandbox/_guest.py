"""The program the sandboxed interpreter runs first: it runs the model's code like a notebook cell.

It is passed to the guest interpreter as `-c` with three arguments: a per-call marker, the limit
on the result's repr and the model's code (base64, so any text survives the C argv). It

* compiles the code as `<code>` (its lines show in tracebacks) and runs it in a fresh `__main__`
  namespace, evaluating a final expression separately so its `repr()` becomes the result;
* prints the traceback of an uncaught exception to stderr without its own frames;
* ends with one control message on stdout, `\\0<marker>` and NUL-separated fields (outcome,
  exit status, exception type, its message, truncation flag, `=` + result), and `os._exit`, so no
  `atexit` hook of the code can print after it. The code could forge that message, but it could
  equally print or return anything it likes: the message carries nothing the code could not set.

Only modules compiled into the interpreter are imported (`_ast`, not `ast`; no `json`): the first
import from the zipped standard library costs ~40 ms in the guest, more than the rest of start-up.
`traceback` and `linecache` are imported only when there is a traceback to print.
"""

from __future__ import annotations

from typing import Final

__all__ = ["GUEST_FLAGS", "GUEST_RUNNER"]

GUEST_FLAGS: Final[tuple[str, ...]] = ("-S", "-I", "-u")
"""`-S`: no `site` (saves ~20 ms; `exit`/`quit` are added back below). `-I`: isolated mode
(ignore `PYTHON*` variables, no script directory on `sys.path`). `-u`: unbuffered, so whatever
the code printed before a time limit stops it is kept."""

GUEST_RUNNER: Final = r"""
import sys, os, builtins, binascii, _ast
_marker, _limit, _source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
_source = binascii.a2b_base64(_source).decode("utf-8", "surrogatepass")
sys.argv = ["<code>"]
builtins.exit = builtins.quit = sys.exit


def _main():
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        tree = compile(_source, "<code>", "exec", _ast.PyCF_ONLY_AST)
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = _ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<code>", "exec"), namespace)
        value = None if last is None else eval(compile(last, "<code>", "eval"), namespace)
        result = None if value is None else repr(value)
    except SystemExit as exit:
        code = exit.code
        if code is None or isinstance(code, int):
            status = code or 0
            return ("exit", status if 0 <= status < 126 else 1, "", "", "", "")
        print(code, file=sys.stderr)
        return ("exit", 1, "", "", "", "")
    except BaseException as error:
        if isinstance(error, MemoryError):
            namespace.clear()  # free what the code allocated, so that the report can allocate
        import linecache, traceback
        linecache.cache["<code>"] = (len(_source), None, _source.splitlines(True), "<code>")
        skip_runner = not isinstance(error, SyntaxError) and error.__traceback__ is not None
        traceback.print_exception(type(error), error, error.__traceback__.tb_next if skip_runner else None)
        summary = traceback.format_exception_only(type(error), error)[-1].strip()
        return ("exception", 1, type(error).__name__, summary[:1000], "", "")
    if result is None:
        return ("ok", 0, "", "", "", "")
    return ("ok", 0, "", "", "1" if len(result) > _limit else "", "=" + result[:_limit])


_report = _main()
for _stream in (sys.stdout, sys.stderr):
    try:
        _stream.flush()
    except BaseException:
        pass
_fields = [str(field).replace("\0", "\\0") for field in _report[:5]] + [_report[5]]
os.write(1, "\0".join(["", _marker, *_fields]).encode("utf-8", "backslashreplace"))
os._exit(_report[1])
"""
