"""`d2lc build` and `d2lc serve`: the whole book from book.toml — notebooks, executed copies, the site."""
from __future__ import annotations

import fnmatch
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from d2lc.build.outputs import write_or_report
from d2lc.core.diagnostics import print_diagnostics
from d2lc.emit.backend import get_backend, registry, target_names
from d2lc.build.book import Book, BookConfigError, find_chapters, find_root, load

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


@contextmanager
def _progress(label: str, total: int, quiet: bool):
    """A rich progress bar on stderr (nothing when quiet); yields a callback advancing it by one."""
    if quiet or total == 0:
        yield lambda *a: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[item]}"), transient=True, console=_console()) as bar:
        task = bar.add_task(label, total=total, item="")
        yield lambda item="", *a: bar.update(task, advance=1, item=str(item)[-60:])


def _console():
    from rich.console import Console
    return Console(stderr=True)


def _say(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(msg, file=sys.stderr)


def _book(args) -> Book:
    start = Path(args.book) if args.book else Path.cwd()
    root = find_root(start)
    if root is None:
        raise BookConfigError(f"no book.toml in {start.resolve()} or any folder above it")
    return load(root)


def _book_or_report(args) -> Book | None:
    """The book project of `args`, or None after printing why its config cannot be read."""
    try:
        return _book(args)
    except BookConfigError as exc:
        print(f"d2lc: {exc}", file=sys.stderr)
        return None


def _targets(book: Book) -> list:
    names = list(book.targets) or target_names()
    return [get_backend(n) for n in names if n in registry()]


def cmd_build(args, parser) -> int:
    from d2lc.build.compile import _display, build
    book = _book_or_report(args)
    if book is None:
        return EXIT_USAGE
    quiet = args.quiet
    from d2lc.build.uptodate import BuildStamp, Options
    t0 = time.perf_counter()
    if args.execute:  # before the stamp digests the data folder: a first build would otherwise never be up to date
        _sample_data(book, args.quiet)
    stamp = BuildStamp(book, Options(execute=args.execute, execute_only=tuple(args.execute_only or ()), small=args.small,
                                     site=not args.no_site))
    last = None if args.no_cache else stamp.unchanged()
    if last is not None:  # nothing to do: no backend, nbformat or Sphinx is loaded
        _say(f"d2lc: nothing changed since the last build; skipped compiling, executing and the site "
             f"({time.perf_counter() - t0:.2f} s)\n{last}", quiet)
        return EXIT_OK
    backends = _targets(book)
    chapters = find_chapters([book.sources_dir])
    out = book.path(book.output)
    status = EXIT_OK
    from d2lc.core.cache import NotebookCache, default_folder
    cache = None if args.no_cache else NotebookCache(default_folder(out))
    with _progress("compile", len(chapters), quiet) as step:
        result = build([book.sources_dir], backends, out, jobs=args.jobs, progress=step, cache=cache)
    broken = set(result.errors)
    if broken:
        n = print_diagnostics(result.errors)
        status = EXIT_ERRORS
        if not args.keep_going:
            print(f"d2lc: {n} error{'s' * (n != 1)} in {len(broken)} file{'s' * (len(broken) != 1)}; nothing was written "
                  "(--keep-going builds the other chapters)", file=sys.stderr)
            return EXIT_ERRORS
    written = write_or_report(result.outputs, out)
    if written is None:
        return EXIT_USAGE
    good = [c for c in chapters if _display(c.file, None) not in broken]
    imports = any(f'"from {book.library.name}.' in text for text in result.outputs.values())
    if not _library(book, backends, quiet, install=args.execute and imports):  # executed notebooks import it
        return EXIT_ERRORS
    _say(f"d2lc: {len(good)} of {len(chapters)} chapters built for {len(backends)} targets in "
         f"{time.perf_counter() - t0:.1f} s ({result.from_cache} notebooks unchanged, from the compile cache; "
         f"{len(written)} rewritten)", quiet)
    if broken:
        _say("d2lc: broken chapters (kept their previous notebooks):\n" + "\n".join(f"  {b}" for b in sorted(broken)))

    executed_dir = book.path(book.execute.output)
    summary = [f"d2lc: kept {len(good)} chapters for {len(backends)} targets in {book.output}/",
               f"d2lc: kept the helper library in {book.library.output}/"]
    if args.execute:
        status = max(status, _execute(book, backends, good, args))
        summary.append(f"d2lc: kept the executed copies in {book.execute.output}/")
    if not args.no_site:
        status = max(status, _site(book, backends, good, executed_dir, quiet))
        summary.append(f"d2lc: kept the site: open {book.path(book.site.output) / 'index.html'}")
    if status == EXIT_OK:
        stamp.record("\n".join(summary))
    return status


def _library(book: Book, backends, quiet: bool, install: bool = False) -> bool:
    """Write the helper library (package, pyproject.toml, wheel) to [library] output; unchanged files stay as they are.
    With `install`, the wheel goes into every target environment (so executed notebooks import it). False on errors."""
    from d2lc.build.library import LibraryError, write_library
    out = book.path(book.library.output)
    try:
        written = write_library(book, backends, out)
    except LibraryError as exc:
        errors: dict[str, list] = {}
        for d in exc.diagnostics:
            errors.setdefault(d.loc.file, []).append(d)
        n = print_diagnostics(errors)
        print(f"d2lc: {n} error{'s' * (n != 1)} in the book's saved definitions; the library was not written",
              file=sys.stderr)
        return False
    n = len(written)
    _say(f"d2lc: library {book.library.name} ({len(backends)} module{'s' * (len(backends) != 1)}) in "
         f"{book.library.output}/: {n} file{'s' * (n != 1)} rewritten", quiet)
    if install:
        from d2lc.build.envs import install_wheel, python_for
        wheel = out / book.library.wheel
        pythons = dict.fromkeys(p for p in (python_for(b, book.root) for b in backends) if p is not None)
        for python in pythons:
            failed = install_wheel(python, wheel, book.library.name, wheel in written)
            if failed:
                print(f"d2lc: could not install {wheel.name} into {python}: {failed}", file=sys.stderr)
    return True


def cmd_library(args, parser) -> int:
    book = _book_or_report(args)
    if book is None:
        return EXIT_USAGE
    return EXIT_OK if _library(book, _targets(book), args.quiet) else EXIT_ERRORS


def _sample_data(book: Book, quiet: bool) -> None:
    """Small synthetic stand-ins for the data sets the book reads, where the data folder lacks them."""
    from d2lc.build.sampledata import write_sample_data
    data = book.path(book.execute.data)
    made = write_sample_data(data)
    if made:
        _say(f"d2lc: {data} lacked {', '.join(made)}; wrote small synthetic stand-ins (put the real files there to use them)",
             quiet)


def _execute(book: Book, backends, chapters, args) -> int:
    from d2lc.build.envs import REPO_ROOT, framework_available, python_for
    from d2lc.build.execute import Job, execute_all
    t0 = time.perf_counter()
    data = book.path(book.execute.data)
    _sample_data(book, args.quiet)
    selected = [c for c in chapters if not args.execute_only or any(fnmatch.fnmatch(c.rel.as_posix(), p) for p in args.execute_only)]
    jobs, missing = [], []
    for b in backends:
        python = python_for(b)
        if python is None or not framework_available(str(python), (*b.environment.packages, "ipykernel")):
            missing.append(f"{b.name} (environment '{b.environment.name}': run scripts/envs.sh {b.environment.name})")
            continue
        for c in selected:
            rel = Path(b.name) / c.rel.with_suffix(".ipynb")
            jobs.append(Job(book.path(book.output) / rel, f"{book.output}/{rel.as_posix()}", book.path(book.execute.output) / rel,
                            python, b.environment.name, REPO_ROOT / "envs" / f"{b.environment.name}.lock"))
    if missing:
        _say("d2lc: not executed, environment or its kernel missing: " + ", ".join(missing))
    overrides = book.execute.parameters if args.small else {}
    with _progress("execute", len(jobs), args.quiet) as step:
        ran, cached, failures = execute_all(jobs, overrides, book.path(book.execute.cache), book.root / "build" / "kernels",
                                            data, book.execute.timeout, workers=args.jobs or 1, progress=step)
    _say(f"d2lc: executed {ran} notebooks, {cached} unchanged (from the cache), {len(failures)} failed, in "
         f"{time.perf_counter() - t0:.1f} s -> {book.execute.output}/", args.quiet)
    for f in failures:
        print(f"d2lc: execution failed: {f.render()}", file=sys.stderr)
    return EXIT_ERRORS if failures or missing else EXIT_OK


def _site(book: Book, backends, chapters, executed_dir: Path, quiet: bool) -> int:
    from d2lc.build.compile import _display
    from d2lc.build.site.sphinx import SiteError, build_site
    t0 = time.perf_counter()
    known = set(registry()) | {a for b in registry().values() for a in b.aliases}
    try:
        res = build_site(book, chapters, [(b.name, b.display_name) for b in backends], executed_dir, known,
                         lambda f: _display(f, None))
    except SiteError as exc:
        if exc.diagnostics:
            errors: dict[str, list] = {}
            for d in exc.diagnostics:
                errors.setdefault(d.loc.file, []).append(d)
            n = print_diagnostics(errors)
            print(f"d2lc: {n} error{'s' * (n != 1)} in the book's markup; the site was not built", file=sys.stderr)
        else:
            print(f"d2lc: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    wheel = book.path(book.library.output) / book.library.wheel
    if wheel.is_file():  # published at a stable address: notebooks install it from [site] url/_static/
        from d2lc.build.install import WHEEL_PATH
        (res.out / WHEEL_PATH).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel, res.out / WHEEL_PATH / wheel.name)
    index = res.out / "index.html"
    _say(f"d2lc: site: {res.pages} pages ({res.written} sources changed) in {time.perf_counter() - t0:.1f} s\n"
         f"d2lc: open {index} (or run `d2lc serve`)", quiet)
    return EXIT_OK


def cmd_serve(args, parser) -> int:
    """Build, serve the site on 127.0.0.1, and rebuild when a source or book.toml changes."""
    import functools
    import http.server
    import threading
    book = _book_or_report(args)
    if book is None:
        return EXIT_USAGE
    args.keep_going, args.no_site = True, False
    cmd_build(args, parser)
    site = book.path(book.site.output)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"d2lc: serving {site} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", file=sys.stderr)

    def stamp():
        files = [book.root / "book.toml", *sorted(book.sources_dir.rglob("*"))]
        return tuple((str(f), f.stat().st_mtime_ns) for f in files if f.is_file())
    last = stamp()
    try:
        while True:
            time.sleep(args.interval)
            now = stamp()
            if now != last:
                last = now
                _say("d2lc: change seen; rebuilding")
                cmd_build(args, parser)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        server.shutdown()


def add_book_parsers(sub) -> None:
    helptext = "write the book's helper library from book.toml: one module per target, pyproject.toml, a wheel"
    p = sub.add_parser("library", help=helptext, description=helptext)
    p.add_argument("--book", help="the book's root (default: the nearest book.toml at or above the cwd)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_library)
    for name, helptext in (("build", "build the book from book.toml: notebooks, executed copies (--execute), the site"),
                           ("serve", "build, serve the site on 127.0.0.1 and rebuild on change")):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--book", help="the book's root (default: the nearest book.toml at or above the cwd)")
        p.add_argument("--execute", action="store_true", help="run every notebook in its environment's Jupyter kernel")
        p.add_argument("--execute-only", action="append", metavar="GLOB",
                       help="execute only sections matching GLOB (e.g. 'chapter_linear-regression/*'); repeatable")
        p.add_argument("--small", action="store_true", help="apply book.toml's [execute] parameters (small runs)")
        p.add_argument("--jobs", type=int, default=None, metavar="N", help="parallel compiles and kernels")
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("--no-cache", action="store_true", help="compile everything again (no compile cache)")
        if name == "build":
            p.add_argument("--keep-going", action="store_true", help="build every chapter that compiles; report the others")
            p.add_argument("--no-site", action="store_true", help="notebooks (and executed copies) only")
            p.set_defaults(func=cmd_build)
        else:
            p.add_argument("--port", type=int, default=8000)
            p.add_argument("--interval", type=float, default=1.0, help="seconds between checks for changes")
            p.set_defaults(func=cmd_serve)
