"""Runs the examples of Markdown pages, as the pages spell them, and checks
that each one returns rows.

Every fenced code block of a page given here must follow a marker line

    <!-- doc-test: KIND -->

(an HTML comment: invisible on the rendered page). KIND is one of

  sqlite3-command  a sh block: the sqlite3 shell command line that the
                   following `sqlite3` blocks are typed into.
  sqlite3          a sql block; each paragraph (blank-line separated) is one
                   example, fed on stdin to that command line. It must print
                   a row (the shell prints nothing, not even the header, when
                   a query returns no rows), or write one to its `.output`
                   file.
  python           a python block, run by /usr/bin/python3. Every pandas
                   DataFrame or Series it leaves must have a row.
  shell            a sh block; each line is one command, run in order in one
                   bash, in a folder of its own with the binaries on PATH.
                   Each must exit 0 and print a line, or set a variable to a
                   non-empty value, or write a file with a row (CSV: a data
                   row; SVG: a point or a bar).
  shell-output     `$ COMMAND` lines, each followed by the output the page
                   promises; COMMAND must print those lines (stdout and
                   stderr together), whatever its exit code.
  sweep-file       a YAML sweep file: `switchyard submit --dry-run` on it
                   must print its cells.
  skip (REASON)    not run (sample output, an interactive view); the reason
                   says why.

A block without a marker is an error, so a new example cannot escape the
test. The pages use the values a reader has (the data folder var/coord,
the coordinator 127.0.0.1:50051, sweep 3, job 42, examples/quick.yaml);
this script substitutes the test's own for exactly those, and nothing
else. A sqlite3 or python example passes when it returns rows for at least
one of the test's sweeps (a query for failed jobs finds them in the sweep
whose jobs fail), each with its first job as job 42.

    run_doc_examples.py --bin DIR --data-dir DIR --coordinator HOST:PORT
                        --sweep-file FILE --work DIR PAGE.md...
Prints one line per example; exits 1 when any failed.
"""
import argparse
import csv
import os
import re
import sqlite3
import subprocess
import sys

MARKER = re.compile(r"^<!-- doc-test: (.*) -->$")
FENCE = re.compile(r"^```(\S*)\s*$")
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
DOC_DATA_DIR = "var/coord"
DOC_COORDINATOR = "127.0.0.1:50051"
DOC_SWEEP_FILE = "examples/quick.yaml"


def blocks(path):
    """(line, kind, language, text) for each fenced block of the page."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start = i
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        kind = marker.group(1) if marker else None
        found.append((start + 1, kind, fence.group(1), "\n".join(body) + "\n"))
    return found


class Runner:
    def __init__(self, args):
        self.args = args
        self.failures = 0
        self.sqlite3_command = None
        self.count = 0

    def report(self, ok, where, what):
        self.count += 1
        print(("ok: " if ok else "FAIL: ") + f"{where}: {what}")
        if not ok:
            self.failures += 1

    def folder(self):
        path = os.path.join(self.args.work, f"example-{self.count}")
        os.makedirs(path, exist_ok=True)
        return path

    def ids(self):
        """(sweep, its first job) for every sweep in the test's database."""
        con = sqlite3.connect(f"file:{self.db()}?mode=ro", uri=True)
        try:
            return con.execute(
                "SELECT s.id, MIN(j.id) FROM sweeps s JOIN jobs j ON j.sweep_id = s.id "
                "GROUP BY s.id ORDER BY s.id").fetchall()
        finally:
            con.close()

    def db(self):
        return os.path.join(self.args.data_dir, "switchyard.db")

    def paths(self, text):
        """The page's data folder and coordinator replaced by the test's."""
        return (text.replace(DOC_DATA_DIR + "/", self.args.data_dir + "/")
                .replace(DOC_COORDINATOR, self.args.coordinator)
                .replace(DOC_SWEEP_FILE, self.args.sweep_file))

    @staticmethod
    def with_ids(text, sweep, job):
        """Sweep 3 and job 42 of the page replaced by the test's."""
        text = re.sub(r"\bsweep_id = 3\b", f"sweep_id = {sweep}", text)
        text = re.sub(r"\bparams=\(3,\)", f"params=({sweep},)", text)
        return re.sub(r"\bjob_id = 42\b", f"job_id = {job}", text)

    # ------------------------------------------------------------ kinds
    def run_sqlite3_command(self, where, text):
        command = self.paths(text).strip()
        if "\n" in command or not command.startswith("sqlite3 "):
            self.report(False, where, "a sqlite3-command block holds one sqlite3 command line")
            return
        self.sqlite3_command = command
        self.report(True, where, f"the command for the sqlite3 examples: {command}")

    def run_sqlite3(self, where, text):
        if self.sqlite3_command is None:
            self.report(False, where, "no sqlite3-command block before this one")
            return
        for paragraph in re.split(r"\n\s*\n", text.strip()):
            title = paragraph.splitlines()[0]
            results = []
            for sweep, job in self.ids():
                folder = self.folder()
                script = self.with_ids(self.paths(paragraph), sweep, job) + "\n"
                p = subprocess.run(["bash", "-c", self.sqlite3_command], input=script,
                                   capture_output=True, text=True, cwd=folder)
                rows = len(p.stdout.splitlines())
                for name in re.findall(r"^\.output (\S+)$", paragraph, re.M):
                    if name != "stdout":
                        rows += csv_rows(os.path.join(folder, name))
                results.append((p.returncode == 0 and not p.stderr and rows > 0,
                                f"sweep {sweep}: exit {p.returncode}, {rows} lines"
                                + (f", stderr {p.stderr.strip()!r}" if p.stderr else "")))
            self.report(any(ok for ok, _ in results), f"{where} {title}",
                        "; ".join(what for _, what in results))

    def run_python(self, where, text):
        check = (
            "\nimport pandas as _pd\n"
            "_frames = {_n: len(_v) for _n, _v in list(globals().items())\n"
            "           if not _n.startswith('_') and isinstance(_v, (_pd.DataFrame, _pd.Series))}\n"
            "print('rows:', _frames)\n"
            "assert _frames, 'the example leaves no DataFrame'\n"
            "assert all(_frames.values()), f'empty: {[n for n, r in _frames.items() if not r]}'\n")
        results = []
        for sweep, job in self.ids():
            script = self.with_ids(self.paths(text), sweep, job) + check
            p = subprocess.run([PYTHON, "-"], input=script, capture_output=True,
                               text=True, cwd=self.folder())
            last = (p.stdout + p.stderr).strip().splitlines()[-1:] or [""]
            results.append((p.returncode == 0, f"sweep {sweep}: {last[0]}"))
        self.report(any(ok for ok, _ in results), where, "; ".join(w for _, w in results))

    def run_shell(self, where, text):
        folder = self.folder()
        commands = [line for line in self.paths(text).splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
        script = ["set -u", f'export PATH="{self.args.bin}:$PATH"']
        for n, line in enumerate(commands):
            assigned = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", line)
            script.append(f"{{ {line}\n}} >out.{n} 2>err.{n} </dev/null; echo $? >rc.{n}")
            if assigned:
                script.append(f'printf %s "${{{assigned.group(1)}-}}" >var.{n}')
            script.append(f'[ "$(cat rc.{n})" = 0 ] || exit 0')
        subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder)
        for n, line in enumerate(commands):
            title = f"{where} `{line.split('#')[0].strip()}`"
            rc_file = os.path.join(folder, f"rc.{n}")
            if not os.path.exists(rc_file):
                self.report(False, title, "not run: an earlier command failed")
                continue
            rc = open(rc_file).read().strip()
            err = open(os.path.join(folder, f"err.{n}")).read().strip()
            if rc != "0":
                self.report(False, title, f"exit {rc}: {err[-600:]}")
                continue
            rows = len(open(os.path.join(folder, f"out.{n}")).read().splitlines())
            what = f"{rows} lines"
            var_file = os.path.join(folder, f"var.{n}")
            if os.path.exists(var_file) and open(var_file).read():
                rows += 1
                what += f", set to {open(var_file).read()!r}"
            for name in written_files(line, folder):
                got = file_rows(os.path.join(folder, name))
                rows += got
                what += f", {name}: {got} rows"
            self.report(rows > 0, title, what)

    def run_shell_output(self, where, text):
        pairs = []
        for line in text.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:], []))
            elif pairs:
                pairs[-1][1].append(line)
            elif line.strip():
                self.report(False, where, f"output before any `$ ` command: {line!r}")
                return
        for command, expected in pairs:
            p = subprocess.run(["bash", "-c", f'export PATH="{self.args.bin}:$PATH"; '
                                + self.paths(command)],
                               capture_output=True, text=True, cwd=self.folder())
            got = (p.stdout + p.stderr).splitlines()
            missing = [line for line in expected if line.strip() and line not in got]
            self.report(bool(got) and not missing, f"{where} `{command}`",
                        f"exit {p.returncode}; "
                        + (f"missing {missing}, got {got[:10]}" if missing else f"{len(got)} lines as shown"))

    def run_sweep_file(self, where, text):
        folder = self.folder()
        name = "quick.yaml"
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
        p = subprocess.run([os.path.join(self.args.bin, "switchyard"), "submit", name, "--dry-run"],
                           capture_output=True, text=True, cwd=folder)
        rows = len(p.stdout.splitlines())
        self.report(p.returncode == 0 and rows > 1, where,
                    f"submit --dry-run: exit {p.returncode}, {rows} lines {p.stderr.strip()[:300]}")

    def run_page(self, path):
        page = os.path.basename(path)
        kinds = {
            "sqlite3-command": self.run_sqlite3_command,
            "sqlite3": self.run_sqlite3,
            "python": self.run_python,
            "shell": self.run_shell,
            "shell-output": self.run_shell_output,
            "sweep-file": self.run_sweep_file,
        }
        for line, kind, language, text in blocks(path):
            where = f"{page}:{line}"
            if kind is None:
                self.report(False, where, f"a ```{language} block without a "
                            "<!-- doc-test: KIND --> line before it")
            elif kind.startswith("skip (") and kind.endswith(")"):
                print(f"skip: {where}: {kind[6:-1]}")
            elif kind in kinds:
                kinds[kind](where, text)
            else:
                self.report(False, where, f"unknown doc-test kind '{kind}'")


def csv_rows(path):
    """Data rows of a CSV file without a header (sqlite3 `.mode csv`)."""
    if not os.path.exists(path):
        return 0
    with open(path, newline="") as f:
        return sum(1 for _ in csv.reader(f))


def written_files(line, folder):
    """Files a command line names (--out F, .backup F) that now exist."""
    names = re.findall(r"--out\s+(\S+)", line) + re.findall(r"\.backup\s+([^\s\"']+)", line)
    return [n for n in names if os.path.exists(os.path.join(folder, n))]


def file_rows(path):
    """Rows of a file a command wrote: CSV data rows, SVG points and bars,
    the rows of a SQLite copy's jobs table."""
    if path.endswith(".csv"):
        with open(path, newline="") as f:
            return sum(1 for _ in csv.DictReader(f))
    if path.endswith(".svg"):
        text = open(path, encoding="utf-8").read()
        return text.count('class="point"') + text.count('class="bar"')
    if path.endswith(".db"):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        finally:
            con.close()
    return len(open(path, "rb").read().splitlines())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--coordinator", required=True)
    parser.add_argument("--sweep-file", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("pages", nargs="+")
    args = parser.parse_args()
    runner = Runner(args)
    for page in args.pages:
        runner.run_page(page)
    print(f"{runner.count} examples, {runner.failures} failed")
    sys.exit(1 if runner.failures or runner.count == 0 else 0)


if __name__ == "__main__":
    main()
