"""rekey's benchmark: rekey against the floor and against the common serial script.

Run it with `./scripts/bench` (which installs what it needs and builds rekey in release
mode). Everything runs against moto on 127.0.0.1; nothing leaves the machine.

Measured, as medians over repetitions:
  1. `rekey apply --yes` for N profiles (each with a credentials-file and a .env sink);
  2. the floor: the minimal API calls a rotation needs (create, K x GetCallerIdentity,
     update), issued concurrently by boto3;
  3. the common script's algorithm as a serial AWS CLI loop (create, `aws configure set`
     twice, list, deactivate), without its 10 s sleep;
  4. `rekey plan` for N profiles, and the peak RSS of `rekey apply` (GNU time).
It prints a markdown table with the ratios rekey/floor and script/rekey.
"""

import argparse
import concurrent.futures
import os
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
AWS_CLI = REPO / "target" / "bench-venv" / "bin" / "aws"
REGION = "us-east-1"
ADMIN = dict(aws_access_key_id="AKIABENCHADMIN00000", aws_secret_access_key="admin")


class World:
    """N users with one key each, in a throwaway home: credentials file, .env files,
    a manifest naming both sinks per profile."""

    counter = 0

    def __init__(self, endpoint, n):
        World.counter += 1
        self.endpoint = endpoint
        self.dir = Path(tempfile.mkdtemp(prefix="rekey-bench-"))
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, **ADMIN)
        self.users = []
        credentials, manifest = [], ["version: 1", "defaults:", "  grace: 1d", "profiles:"]
        for i in range(n):
            user = f"bench{World.counter}-{i}"
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            self.users.append((user, key["AccessKeyId"], key["SecretAccessKey"]))
            credentials += [f"[{user}]", f"aws_access_key_id = {key['AccessKeyId']}",
                            f"aws_secret_access_key = {key['SecretAccessKey']}", ""]
            (self.dir / f"{user}.env").write_text(
                f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")
            manifest += [f"  {user}:", "    sinks:", "      - type: credentials_file",
                         "      - type: dotenv", f"        path: {user}.env"]
        (self.dir / ".aws").mkdir()
        self.credentials = self.dir / ".aws" / "credentials"
        self.credentials.write_text("\n".join(credentials))
        os.chmod(self.credentials, 0o600)
        (self.dir / "rekey.yaml").write_text("\n".join(manifest) + "\n")

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=str(self.dir), AWS_SHARED_CREDENTIALS_FILE=str(self.credentials),
                   AWS_CONFIG_FILE=str(self.dir / ".aws" / "config"),
                   REKEY_STATE_DIR=str(self.dir / "state"), AWS_ENDPOINT_URL=self.endpoint,
                   AWS_REGION=REGION)
        return env

    def rekey(self, *args, rss=False):
        command = [str(REKEY), *args]
        if rss:
            command = ["/usr/bin/time", "-v", *command]
        start = time.perf_counter()
        out = subprocess.run(command, cwd=self.dir, env=self.env(), capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"rekey {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        if rss:
            kb = next(int(line.split(":")[1]) for line in out.stderr.splitlines()
                      if "Maximum resident set size" in line)
            return elapsed, kb / 1024
        return elapsed

    def floor(self):
        """The minimal calls, concurrently: create, 3 x GetCallerIdentity, deactivate."""
        def one(user):
            name, old_id, old_secret = user
            iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION,
                               aws_access_key_id=old_id, aws_secret_access_key=old_secret)
            new = iam.create_access_key(UserName=name)["AccessKey"]
            creds = dict(aws_access_key_id=new["AccessKeyId"], aws_secret_access_key=new["SecretAccessKey"])
            sts = boto3.client("sts", endpoint_url=self.endpoint, region_name=REGION, **creds)
            for _ in range(3):
                sts.get_caller_identity()
            boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION, **creds) \
                .update_access_key(UserName=name, AccessKeyId=old_id, Status="Inactive")
        # Clients are made up front, as a tuned client would; only the calls are timed.
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(self.users), 64)) as pool:
            list(pool.map(one, self.users))
        return time.perf_counter() - start

    def script(self):
        """The common script, serially, with the AWS CLI (no 10 s sleep)."""
        env = self.env()
        def aws(*args):
            out = subprocess.run([str(AWS_CLI), "--endpoint-url", self.endpoint, "--region", REGION,
                                  "--output", "text", *args], env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"aws {' '.join(args)} failed: {out.stderr}")
            return out.stdout
        start = time.perf_counter()
        for name, old_id, _ in self.users:
            created = aws("iam", "create-access-key", "--user-name", name, "--profile", name,
                          "--query", "AccessKey.[AccessKeyId,SecretAccessKey]").split()
            aws("configure", "set", "aws_access_key_id", created[0], "--profile", name)
            aws("configure", "set", "aws_secret_access_key", created[1], "--profile", name)
            aws("iam", "list-access-keys", "--user-name", name, "--profile", name)
            aws("iam", "update-access-key", "--user-name", name, "--access-key-id", old_id,
                "--status", "Inactive", "--profile", name)
        return time.perf_counter() - start

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def median(endpoint, n, reps, measure):
    values = []
    for _ in range(reps):
        world = World(endpoint, n)
        try:
            values.append(measure(world))
        finally:
            world.remove()
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="also N = 1000")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per measure (median)")
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server.start()
    endpoint = "http://127.0.0.1:%d" % server.get_host_and_port()[1]

    sizes = [10, 100] + ([1000] if args.long else [])
    rows = []
    for n in sizes:
        rekey = median(endpoint, n, args.reps, lambda w: w.rekey("apply", "--yes"))
        floor = median(endpoint, n, args.reps, lambda w: w.floor())
        # The serial script is slow by nature; one run at N >= 100 is enough to show it.
        script = median(endpoint, n, args.reps if n < 100 else 1, lambda w: w.script())
        rows.append((n, rekey, floor, script))
    plan = median(endpoint, 100, args.reps, lambda w: w.rekey("plan"))
    rss = median(endpoint, 100, 1, lambda w: w.rekey("apply", "--yes", rss=True)[1])
    server.stop()

    print(f"rekey benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, moto on loopback, "
          f"medians of {args.reps} runs (the serial script: 1 run at N >= 100)\n")
    print("| N | rekey apply | floor (boto3, concurrent) | serial AWS CLI script | rekey / floor | script / rekey |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, rekey, floor, script in rows:
        print(f"| {n} | {rekey:.2f} s | {floor:.2f} s | {script:.2f} s | {rekey / floor:.2f} | {script / rekey:.1f} |")
    print(f"\n`rekey plan`, N = 100: {plan:.2f} s. Peak RSS of `rekey apply`, N = 100: {rss:.1f} MB.")


if __name__ == "__main__":
    main()
