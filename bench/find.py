"""`rekey find` against ripgrep on the same tree and the same fixed strings.

Run it with `./scripts/bench --find` (which installs ripgrep from the Python package
index and builds rekey in release mode). The tree (about 50,000 files and 1 GB, with a
few hundred copies of 20 keys' ids and secrets) is generated once under
target/find-bench and reused. Both tools read it warm (one run each first), then the
medians of `--reps` interleaved runs are compared: wall time, and rekey's peak RSS. A
first find (no record yet of whose each key is) is timed apart: it also asks STS about
each key.

rekey knows the 20 keys from a credentials file (20 users on moto, which answers
`find`'s STS calls on loopback); ripgrep gets the same 40 strings and the `AKIA`
prefix with `--no-ignore --hidden -F -f PATTERNS`.
"""

import argparse
import collections
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parent.parent
REKEY = REPO / "target" / "release" / "rekey"
RG = REPO / "target" / "bench-venv" / "bin" / "rg"
TREE = REPO / "target" / "find-bench"
FILES, SIZE, KEYS, HITS = 50_000, 1_000_000_000, 20, 300
ADMIN = dict(aws_access_key_id="AKIABENCHADMIN00000", aws_secret_access_key="admin")
WORDS = [w.encode() for w in (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
    "zulu config value region bucket endpoint timeout retry deploy service"
).split()]


def keys(endpoint):
    """20 users with a key each, on moto."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **ADMIN)
    out = []
    for i in range(KEYS):
        user = f"findbench{i}-{os.getpid()}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        out.append((user, key["AccessKeyId"], key["SecretAccessKey"]))
    return out


def generate(found):
    """The tree: FILES files of about SIZE bytes in all, HITS of them holding a key."""
    if TREE.exists():
        shutil.rmtree(TREE)
    rng = random.Random(20)
    line = b" ".join(rng.choice(WORDS) for _ in range(12)) + b"\n"
    filler = line * (SIZE // FILES // len(line) + 1)
    hits = set(rng.sample(range(FILES), HITS))
    for n in range(FILES):
        folder = TREE / f"d{n // 500:03}" / f"e{n // 50 % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        body = filler[: rng.randint(SIZE // FILES // 2, SIZE // FILES * 3 // 2)]
        if n in hits:
            _, key_id, secret = found[n % KEYS]
            value = key_id if n % 2 else secret
            middle = len(body) // 2
            body = body[:middle] + b"\nAWS_KEY=" + value.encode() + b"\n" + body[middle:]
        (folder / f"f{n}.{('txt', 'env', 'json', 'yaml', 'log')[n % 5]}").write_bytes(body)


Run = collections.namedtuple("Run", "wall rss_kib cpu")


def timed(argv, env=None):
    """Wall time, peak RSS (KiB) and CPU time (user + system) of one run, the last two
    from GNU time: a child of this large Python process would count its parent's pages
    in its own peak."""
    start = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *argv], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if run.returncode not in (0, 1):
        sys.exit(f"{argv[0]} failed: {run.stderr.decode()}")
    rss, user, system = run.stderr.decode().strip().splitlines()[-1].split()
    return Run(elapsed, int(rss), float(user) + float(system))


def moto():
    """A moto server on loopback, and its endpoint."""
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, "http://127.0.0.1:%d" % server.get_host_and_port()[1]


def home_for(found, endpoint, prefix):
    """A home whose credentials file holds `found`'s keys, the patterns file of the same
    strings for ripgrep, and the environment rekey runs with there."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("".join(
        f"[{user}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
        for user, key_id, secret in found))
    patterns = home / "patterns"
    patterns.write_text("AKIA\n" + "".join(f"{k}\n{s}\n" for _, k, s in found))
    env = dict(os.environ, HOME=str(home), AWS_ENDPOINT_URL=endpoint,
               AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
               AWS_CONFIG_FILE=str(home / ".aws" / "config"),
               REKEY_STATE_DIR=str(home / "state"))
    return home, patterns, env


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median)")
    args = parser.parse_args()
    server, endpoint = moto()
    found = keys(endpoint)
    generate(found)
    home, patterns, env = home_for(found, endpoint, "rekey-find-bench-")
    rekey = [str(REKEY), "find", str(TREE), "--output", "json"]
    rg = [str(RG), "--no-ignore", "--hidden", "-F", "-f", str(patterns), str(TREE)]
    timed(rekey, env), timed(rg)  # warm the page cache
    # A first find asks STS whose each of the 20 keys is; later ones read the answers
    # from the state dir (an access key's owner never changes).
    owners = home / "state" / "key-owners.json"

    def first_find():
        owners.unlink()
        return timed(rekey, env)

    # Interleaved, so that both see the same machine (a drift of its speed over the
    # runs moved the ratio by 5%).
    first_runs, rekey_runs, rg_runs = [], [], []
    for _ in range(args.reps):
        first_runs.append(first_find())
        rekey_runs.append(timed(rekey, env))
        rg_runs.append(timed(rg))
    out = subprocess.run(rekey, env=env, capture_output=True, check=True).stdout.decode()
    copies = out.count('"path"')
    server.stop()
    shutil.rmtree(home)

    size = sum(p.stat().st_size for p in TREE.rglob("*") if p.is_file())
    wall = statistics.median(r.wall for r in rekey_runs)
    first_wall = statistics.median(r.wall for r in first_runs)
    rg_wall = statistics.median(r.wall for r in rg_runs)
    cpu = statistics.median(r.cpu for r in rekey_runs)
    rg_cpu = statistics.median(r.cpu for r in rg_runs)
    rss = max(r.rss_kib for r in rekey_runs) / 1024
    print(f"`rekey find` benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"{FILES} files, {size / 1e9:.2f} GB, {KEYS} keys, {copies} copies found, "
          f"medians of {args.reps} warm runs\n")
    print("| rekey find | ripgrep (-F, 41 strings) | rekey / ripgrep | first find (asks STS) | CPU: rekey | CPU: ripgrep | rekey peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {wall * 1000:.0f} ms | {rg_wall * 1000:.0f} ms | {wall / rg_wall:.3f} "
          f"| {first_wall * 1000:.0f} ms | {cpu:.2f} s | {rg_cpu:.2f} s | {rss:.0f} MiB |")
    print("(targets: no slower than ripgrep, under 64 MiB)")


if __name__ == "__main__":
    main()
