"""rekey's benchmark: rekey against the floor and against the common serial script.

Run it with `./scripts/bench` (which installs what it needs and builds rekey in release
mode). Everything runs against moto on 127.0.0.1; nothing leaves the machine.

Measured, as medians over repetitions:
  1. `rekey apply --yes` for N profiles (each with a credentials-file and a .env sink);
  2. the floor: the minimal API calls a rotation needs (create, K x GetCallerIdentity,
     update), issued concurrently by boto3;
  3. the common script's algorithm as a serial AWS CLI loop (create, `aws configure set`
     twice, list, deactivate), without its 10 s sleep;
  4. propagation delay: 20 profiles behind a proxy that refuses each new key for 5 s
     (InvalidClientTokenId, as IAM does while a key propagates);
  5. IAM lagging STS: 20 profiles behind a proxy where STS accepts each new key after
     2 s and IAM after 6 s, as seen on real AWS;
  6. API calls per profile of `rekey apply --grace 0` at N = 50 and 100 (counted by a
     pass-through proxy, in a run of their own), next to its time and to the emulator's
     capacity for as many calls (the same count of GetCallerIdentity calls from one
     pre-built boto3 client on 8 threads, measured in the same run);
  7. `rekey plan` for N = 100 against its floor (the read calls planning needs, issued
     concurrently by boto3), and the peak RSS of `rekey apply` (GNU time);
  8. IAM's rate limit: 60 and 300 profiles behind a proxy where IAM admits 15 calls a
     second and answers the rest `Throttling`: wall time against (IAM calls / 15), and
     throttled answers against accepted calls; `rekey sync` in step (IAM calls: 0); and
     1,000 profiles unthrottled, with peak RSS.
It prints markdown tables with the ratios.
"""

import argparse
import concurrent.futures
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

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

    def plan_floor(self):
        """The reads planning needs per profile (whose key, the user's keys, last use),
        concurrently, with clients made up front."""
        clients = []
        for name, key_id, secret in self.users:
            creds = dict(endpoint_url=self.endpoint, region_name=REGION,
                         aws_access_key_id=key_id, aws_secret_access_key=secret)
            clients.append((name, key_id, boto3.client("sts", **creds), boto3.client("iam", **creds)))
        def one(client):
            name, key_id, sts, iam = client
            sts.get_caller_identity()
            iam.list_access_keys(UserName=name)
            iam.get_access_key_last_used(AccessKeyId=key_id)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, clients))
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


class PropagationProxy:
    """Forwards to moto, counting requests (per service), but refuses a key created
    through it with InvalidClientTokenId for `sts_delay` seconds at STS and `iam_delay`
    seconds at IAM, as AWS does while a new key propagates (STS often accepts it first).
    With `iam_rate`, IAM admits that many calls per second (a bucket holding one
    second's worth) and answers the others `Throttling` ("Rate exceeded"), as IAM does
    past an account's rate."""

    THROTTLED = (b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
                 b'<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>'
                 b'</Error><RequestId>bench</RequestId></ErrorResponse>')

    REFUSAL = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
               b'<Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token '
               b'included in the request is invalid.</Message></Error><RequestId>bench</RequestId>'
               b'</ErrorResponse>')

    def __init__(self, upstream, sts_delay=0.0, iam_delay=0.0, iam_rate=None):
        born, lock = {}, threading.Lock()
        self.requests = 0
        self.by_service = {}
        self.throttled = 0
        bucket = [iam_rate or 0.0, time.monotonic()]
        throttled = self.THROTTLED
        target = urlparse(upstream)
        refusal = self.REFUSAL
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                auth = self.headers.get("Authorization", "")
                # Credential=AKID/20261201/us-east-1/iam/aws4_request
                scope = auth.split("Credential=")[1].split(",")[0].split("/") if "Credential=" in auth else [""]
                key, service = scope[0], (scope[3] if len(scope) > 3 else "")
                delay = sts_delay if service == "sts" else iam_delay
                with lock:
                    proxy.requests += 1
                    proxy.by_service[service] = proxy.by_service.get(service, 0) + 1
                    created = born.get(key)
                    limited = False
                    if iam_rate and service == "iam":
                        now = time.monotonic()
                        capacity = max(iam_rate, 1.0)
                        bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * iam_rate)
                        bucket[1] = now
                        if bucket[0] >= 1.0:
                            bucket[0] -= 1.0
                        else:
                            limited = True
                            proxy.throttled += 1
                if limited:
                    return self.answer(400, [("Content-Type", "text/xml")], throttled)
                if created is not None and time.monotonic() - created < delay:
                    return self.answer(403, [("Content-Type", "text/xml")], refusal)
                upstream = http.client.HTTPConnection(target.hostname, target.port)
                upstream.request(self.command, self.path, body, headers=dict(self.headers))
                response = upstream.getresponse()
                data = response.read()
                upstream.close()
                if b"<CreateAccessKeyResponse" in data:
                    new = re.search(rb"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>", data).group(1).decode()
                    with lock:
                        born[new] = time.monotonic()
                headers = [(k, v) for k, v in response.getheaders()
                           if k.lower() not in ("content-length", "connection", "transfer-encoding")]
                self.answer(response.status, headers, data)

            do_GET = do_POST

            def answer(self, status, headers, data):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()


def capacity(endpoint, calls):
    """Seconds moto takes for `calls` GetCallerIdentity calls from one pre-built boto3
    client on 8 threads: what the emulator can serve, whoever asks."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, **ADMIN)
    sts.get_caller_identity()  # connection and signer warmed up, not timed
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: sts.get_caller_identity(), range(calls)))
    return time.perf_counter() - start


def calls_per_profile(endpoint, n, *args):
    """API calls `rekey ARGS` makes per profile for N profiles (one run, counted by a
    pass-through proxy)."""
    proxy = PropagationProxy(endpoint)
    try:
        median(endpoint, n, 1, lambda w: w.rekey(*args), via=proxy.endpoint)
    finally:
        proxy.stop()
    return proxy.requests / n


def median(endpoint, n, reps, measure, via=None):
    """The median of `measure` over `reps` fresh worlds of `n` users (set up directly on
    moto; rekey talks to `via` if given)."""
    values = []
    for _ in range(reps):
        # moto finds a key's user by scanning every user, so its answers slow down as
        # worlds pile up: each measurement starts from an empty moto.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        world = World(endpoint, n)
        if via:
            world.endpoint = via
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
        # The serial script is slow by nature; one run at N = 100 is enough to show it,
        # and at N = 1000 (about half an hour) it is not run at all.
        script = None if n > 100 else median(endpoint, n, args.reps if n < 100 else 1, lambda w: w.script())
        rows.append((n, rekey, floor, script))
    proxy = PropagationProxy(endpoint, sts_delay=5.0, iam_delay=5.0)
    delayed = median(endpoint, 20, args.reps, lambda w: w.rekey("apply", "--yes"), via=proxy.endpoint)
    proxy.stop()
    proxy = PropagationProxy(endpoint, sts_delay=2.0, iam_delay=6.0)
    lagging = median(endpoint, 20, args.reps, lambda w: w.rekey("apply", "--yes"), via=proxy.endpoint)
    proxy.stop()
    calls = []
    for n in (50, 100):
        apply = ("apply", "--yes", "--grace", "0")
        per_profile = calls_per_profile(endpoint, n, *apply)
        timed = median(endpoint, n, args.reps, lambda w: w.rekey(*apply))
        ceiling = median(endpoint, n, args.reps, lambda w: capacity(endpoint, round(per_profile * n)))
        calls.append((n, per_profile, timed, ceiling))
    # IAM's rate limit: IAM admits 15 calls a second; every profile must rotate.
    limited = []
    for n in (60, 300):
        proxy = PropagationProxy(endpoint, iam_rate=15.0)
        elapsed = median(endpoint, n, 1, lambda w: w.rekey("apply", "--yes", "--grace", "0"),
                         via=proxy.endpoint)
        proxy.stop()
        accepted = proxy.by_service.get("iam", 0) - proxy.throttled
        limited.append((n, elapsed, accepted, proxy.throttled))
    # A fleet's hourly sync, every place in step: no IAM call at all.
    proxy = PropagationProxy(endpoint)
    median(endpoint, 10, 1, lambda w: w.rekey("sync", "--yes"), via=proxy.endpoint)
    proxy.stop()
    sync_iam = proxy.by_service.get("iam", 0)
    big = median(endpoint, 1000, 1, lambda w: w.rekey("apply", "--yes", rss=True))
    plan = median(endpoint, 100, args.reps, lambda w: w.rekey("plan"))
    plan_floor = median(endpoint, 100, args.reps, lambda w: w.plan_floor())
    rss = median(endpoint, 100, 1, lambda w: w.rekey("apply", "--yes", rss=True)[1])
    server.stop()

    print(f"rekey benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, moto on loopback, "
          f"medians of {args.reps} runs (the serial script: 1 run at N >= 100)\n")
    print("| N | rekey apply | floor (boto3, concurrent) | serial AWS CLI script | rekey / floor | script / rekey |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, rekey, floor, script in rows:
        if script is None:
            print(f"| {n} | {rekey:.2f} s | {floor:.2f} s | not run | {rekey / floor:.2f} | |")
        else:
            print(f"| {n} | {rekey:.2f} s | {floor:.2f} s | {script:.2f} s | {rekey / floor:.2f} | {script / rekey:.1f} |")
    print(f"\nPropagation delay (each new key refused for 5 s), N = 20: `rekey apply` {delayed:.2f} s "
          f"(target 6.5 s).")
    print(f"IAM lagging STS (STS accepts each new key after 2 s, IAM after 6 s), N = 20: "
          f"`rekey apply` {lagging:.2f} s (target 9 s, no failure).")
    print("\n| N | `apply --grace 0` | API calls per profile | emulator capacity for as many calls "
          "| rekey / capacity |")
    print("|---:|---:|---:|---:|---:|")
    for n, per_profile, timed, ceiling in calls:
        print(f"| {n} | {timed:.2f} s | {per_profile:.1f} | {ceiling:.2f} s | {timed / ceiling:.2f} |")
    print("(targets: at most 10 calls per profile; within 1.5x of the capacity)")
    print("\nIAM admitting 15 calls/s (`apply --yes --grace 0`, every profile rotated):\n")
    print("| N | time | IAM calls accepted | floor (accepted / 15) | time / floor | throttled | throttled / accepted |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, elapsed, accepted, throttled in limited:
        floor = accepted / 15.0
        print(f"| {n} | {elapsed:.1f} s | {accepted} | {floor:.1f} s | {elapsed / floor:.2f} | "
              f"{throttled} | {throttled / max(accepted, 1):.2f} |")
    print("(targets: time within 1.3x of the floor; throttled at most half of accepted)")
    print(f"`rekey sync`, N = 10, every place in step: {sync_iam} IAM calls (target 0). "
          f"`rekey apply`, N = 1000, unthrottled: {big[0]:.1f} s, peak RSS {big[1]:.1f} MB.")
    print(f"`rekey plan`, N = 100: {plan:.2f} s; its floor (the same reads, boto3, concurrent): "
          f"{plan_floor:.2f} s (target 0.5 s). Peak RSS of `rekey apply`, N = 100: {rss:.1f} MB "
          f"(target 50 MB).")


if __name__ == "__main__":
    main()
