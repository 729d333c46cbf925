"""`rekey find --history` against the floor a shell user has, `git log -p --all | rg`,
trufflehog 2 as a reference, and `rekey find --staged` on a commit of 100 files.

Run it with `./scripts/bench --history` (release build, ripgrep from the Python package
index, trufflehog 2.2.1 from it too: a Python scanner of each commit's diff with
regular expressions, given the same strings escaped). The repository (10,000 commits over 200 files, with a few copies of 20 keys'
ids and secrets added and removed along the way) is generated once with `git
fast-import` under target/history-bench and reused. Medians of `--reps` warm runs.
"""

import argparse
import json
import os
import re
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from find import REKEY, RG, WORDS, home_for, keys, moto, timed

TRUFFLEHOG = RG.parent / "trufflehog"

REPO = Path(__file__).resolve().parent.parent / "target" / "history-bench"
COMMITS, FILES, LEAKS = 10_000, 200, 12


def generate(found):
    """The repository: COMMITS commits, each rewriting one of FILES files; LEAKS of them
    add a key's id and secret to a file, which a later commit takes out again."""
    if REPO.exists():
        shutil.rmtree(REPO)
    subprocess.run(["git", "init", "-q", "-b", "main", str(REPO)], check=True)
    rng = random.Random(7)
    leaks = set(rng.sample(range(COMMITS), LEAKS))
    stream = bytearray()
    for n in range(COMMITS):
        path = f"src/f{rng.randrange(FILES)}.txt"
        body = b"".join(b" ".join(rng.choice(WORDS) for _ in range(10)) + b"\n" for _ in range(40))
        if n in leaks:
            _, key_id, secret = found[rng.randrange(len(found))]
            body += f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n".encode()
        message = f"change {n}\n".encode()
        stream += b"commit refs/heads/main\n"
        stream += f"committer Bench <b@example.com> {1_700_000_000 + n} +0000\n".encode()
        # Each commit continues the branch (fast-import keeps its tip).
        stream += b"data %d\n%s" % (len(message), message)
        stream += b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(body), body)
    subprocess.run(["git", "-C", str(REPO), "fast-import", "--quiet"], input=bytes(stream), check=True)
    subprocess.run(["git", "-C", str(REPO), "checkout", "-q", "main"], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median)")
    args = parser.parse_args()
    server, endpoint = moto()
    found = keys(endpoint)
    generate(found)
    home, patterns, env = home_for(found, endpoint, "rekey-history-bench-")
    rekey = [str(REKEY), "find", "--history", "--output", "json", str(REPO)]
    shell = ["sh", "-c", f"git -C {REPO} log -p --all | {RG} -F -f {patterns}"]
    timed(rekey, env), timed(shell)  # warm
    rekey_runs = [timed(rekey, env) for _ in range(args.reps)]
    shell_runs = [timed(shell) for _ in range(args.reps)]
    out = subprocess.run(rekey, env=env, capture_output=True, check=True).stdout.decode()
    commits = out.count('"subject"')
    # trufflehog clones the repository first (it always does) and diffs every commit
    # with GitPython: one run is enough to place it.
    rules = home / "rules.json"
    rules.write_text(json.dumps({f"s{n}": re.escape(s) for n, s in enumerate(patterns.read_text().split())}))
    trufflehog = [str(TRUFFLEHOG), "--regex", "--entropy=False", "--rules", str(rules), f"file://{REPO}"]
    trufflehog_wall = timed(trufflehog).wall

    # --staged: 100 files changed and staged, one with a key.
    for n in range(100):
        (REPO / "src" / f"f{n}.txt").write_text(f"staged change {n}\n" * 20)
    (REPO / "src" / "f0.txt").write_text(f"AWS_ACCESS_KEY_ID={found[0][1]}\n")
    subprocess.run(["git", "-C", str(REPO), "add", "-A"], check=True)
    staged = ["sh", "-c", f"cd {REPO} && {REKEY} find --staged"]
    timed(staged, env)
    staged_runs = [timed(staged, env) for _ in range(args.reps)]
    subprocess.run(["git", "-C", str(REPO), "reset", "-q", "--hard"], check=True)
    server.stop()
    shutil.rmtree(home)

    wall = statistics.median(r.wall for r in rekey_runs)
    floor = statistics.median(r.wall for r in shell_runs)
    rss = max(r.rss_kib for r in rekey_runs) / 1024
    staged_wall = statistics.median(r.wall for r in staged_runs)
    print(f"`rekey find --history` benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"{COMMITS} commits over {FILES} files, {LEAKS} commits adding a key "
          f"({commits} commit mentions found), medians of {args.reps} warm runs\n")
    print("| rekey find --history | git log -p --all \\| rg -F | rekey / shell | trufflehog 2.2.1 (one run) | rekey peak RSS | rekey find --staged (100 files) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {wall:.2f} s | {floor:.2f} s | {wall / floor:.2f} | {trufflehog_wall:.1f} s | {rss:.0f} MiB | {staged_wall * 1000:.0f} ms |")
    print("(targets: history within 1.5x of the shell pipeline; --staged under 100 ms)")


if __name__ == "__main__":
    main()
