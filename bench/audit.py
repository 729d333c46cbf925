"""`rekey audit --org` of an organization on moto: wall time and IAM calls per user.

Run it with `./scripts/bench --audit [--accounts N --users M --reps K]` (which builds
rekey in release mode). It makes an organization in a fresh management account with N
member accounts (moto's CreateAccount makes OrganizationAccountAccessRole in each, as
AWS does) and M users with one key in each member, then times `rekey audit --via mgmt
--org --role OrganizationAccountAccessRole --output json` through a counting proxy that
forwards every request to moto and tallies the IAM actions, with its peak RSS (GNU
time). `--no-role K` takes the role away in K members: those are reported unaudited,
the others audited. Targets: 3 IAM calls per user with keys (keys, tags, AWS's
quarantine), plus one credential report per account; 200 x 50 under 200 MB.

`--prowler K` also runs Prowler (target/prowler-venv, bench/requirements-prowler.txt) with its
access-key and console-password checks on K member accounts, one run per account as
Prowler works (straight to moto through AWS_ENDPOINT_URL, signed by a session in that
account), and compares its failed checks with rekey's findings on those accounts.
"""

import argparse
import http.client
import http.server
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

import boto3
from moto.server import ThreadedMotoServer

from find import timed

REPO = Path(__file__).resolve().parent.parent
REKEY = REPO / "target" / "release" / "rekey"
PROWLER = REPO / "target" / "prowler-venv" / "bin" / "prowler"
# Prowler's checks of what rekey audits: access keys, and console passwords.
CHECKS = ["iam_no_root_access_key", "iam_rotate_access_key_90_days", "iam_user_accesskey_unused",
          "iam_user_no_setup_initial_access_key", "iam_user_two_active_access_key",
          "iam_user_console_access_unused", "iam_user_mfa_enabled_console_access"]
ADMIN = dict(aws_access_key_id="AKIABENCHADMIN00000", aws_secret_access_key="admin")


class Counting(http.server.ThreadingHTTPServer):
    """Forwards each request to moto, counting actions (`Action=` of the query
    protocol, `X-Amz-Target` of the JSON one). AssumeRole of a role in the `no_role`
    accounts is refused as AWS refuses a role that does not exist (moto assumes any)."""

    daemon_threads = True

    def __init__(self, moto_port, no_role=()):
        self.moto_port = moto_port
        self.no_role = set(no_role)
        self.counts = Counter()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Forward)


class Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target")
        action = target.split(".")[-1] if target else parse_qs(body.decode()).get("Action", ["?"])[0]
        with self.server.lock:
            self.server.counts[action] += 1
        role = parse_qs(body.decode()).get("RoleArn", [""])[0] if action == "AssumeRole" else ""
        if role.split(":")[4:5] and role.split(":")[4] in self.server.no_role:
            denied = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                      b'<Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform'
                      b' sts:AssumeRole on ' + role.encode() + b'</Message></Error>'
                      b'<RequestId>bench</RequestId></ErrorResponse>')
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(denied)))
            self.end_headers()
            self.wfile.write(denied)
            return
        moto = http.client.HTTPConnection("127.0.0.1", self.server.moto_port)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        moto.request("POST", self.path, body=body, headers=headers)
        answer = moto.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def organization(endpoint, accounts, users, no_role=0):
    """A fresh management account's organization: `accounts` members with `users`
    users of one key each (user0 two, user1 a console password too), the first `no_role`
    without OrganizationAccountAccessRole.
    The management account's session credentials."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **ADMIN)

    def session(account):
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/bench", RoleSessionName="bench")["Credentials"]
        return dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                    aws_session_token=c["SessionToken"])

    management = f"{random.randrange(10**11, 10**12):012}"
    mgmt = session(management)
    org = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1", **mgmt)
    org.create_organization(FeatureSet="ALL")
    created = []
    for n in range(accounts):
        member = org.create_account(Email=f"m{n}-{management}@example.com", AccountName=f"m{n}")
        created.append(member["CreateAccountStatus"]["AccountId"])
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           **session(created[-1]))
        if n < no_role:
            role = "OrganizationAccountAccessRole"
            for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                iam.delete_role_policy(RoleName=role, PolicyName=name)
            iam.delete_role(RoleName=role)
        for u in range(users):
            iam.create_user(UserName=f"user{u}")
            iam.create_access_key(UserName=f"user{u}")
        # Something to find in each member: user0 has two active keys; user1 signs in to
        # the console with a password and no MFA (and has never used its key).
        if users >= 2:
            iam.create_access_key(UserName="user0")
            iam.create_login_profile(UserName="user1", Password="a-Long-passw0rd!")
    return mgmt, session, created


def prowler(endpoint, credentials, home):
    """One Prowler run on the account `credentials` sign for: its wall time and its
    failed checks as (check, resource uid)."""
    out = Path(home) / f"prowler-{time.monotonic_ns()}"
    env = dict(os.environ, HOME=home, AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="us-east-1",
               AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID=credentials["aws_access_key_id"],
               AWS_SECRET_ACCESS_KEY=credentials["aws_secret_access_key"],
               AWS_SESSION_TOKEN=credentials["aws_session_token"])
    argv = [str(PROWLER), "aws", "--checks", *CHECKS, "-f", "us-east-1", "--output-formats",
            "json-ocsf", "--output-directory", str(out), "--no-banner", "--ignore-exit-code-3"]
    measured = timed(argv, env)
    failed, passed = [], 0
    for path in out.glob("*.ocsf.json"):
        for finding in json.loads(path.read_text() or "[]"):
            if finding.get("status_code") == "FAIL":
                failed.append((finding["metadata"]["event_code"], finding["resources"][0]["uid"]))
            else:
                passed += 1
    return measured.wall, (failed, passed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-role", type=int, default=0, help="members without the role")
    parser.add_argument("--prowler", type=int, default=0, help="member accounts Prowler runs on")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(port=0, verbose=False)
    moto.start()
    moto_port = moto._server.server_port
    endpoint = f"http://127.0.0.1:{moto_port}"
    print(f"making {args.accounts} accounts x {args.users} users on moto ...", file=sys.stderr)
    started = time.perf_counter()
    mgmt, session, members = organization(endpoint, args.accounts, args.users, args.no_role)
    print(f"made in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    proxy = Counting(moto_port, members[: args.no_role])
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as home:
        credentials = Path(home) / "credentials"
        credentials.write_text(
            "[mgmt]\naws_access_key_id = {aws_access_key_id}\naws_secret_access_key = "
            "{aws_secret_access_key}\naws_session_token = {aws_session_token}\n".format(**mgmt))
        env = dict(os.environ, HOME=home, AWS_SHARED_CREDENTIALS_FILE=str(credentials),
                   AWS_CONFIG_FILE=str(Path(home) / "config"), AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.server_port}",
                   REKEY_STATE_DIR=str(Path(home) / "state"))
        argv = [str(REKEY), "audit", "--via", "mgmt", "--org", "--role",
                "OrganizationAccountAccessRole", "--output", "json"]
        times, peaks, counts = [], [], None
        for _ in range(args.reps):
            proxy.counts.clear()
            measured = timed(argv, env)
            times.append(measured.wall)
            peaks.append(measured.rss_kib / 1024)
            counts = Counter(proxy.counts)
        # The document of the last run (exit 1 when an account could not be audited).
        run = subprocess.run(argv, env=env, capture_output=True, text=True)
        if run.returncode not in (0, 1) or not run.stdout:
            sys.exit(f"rekey audit failed:\n{run.stderr}")
        report = json.loads(run.stdout)
        # Prowler on members that have the role (the first --no-role ones do not).
        compared = members[args.no_role:][: args.prowler]
        prowler_runs = [(m, *prowler(endpoint, session(m), home)) for m in compared]
    keys = sum(len(a["keys"]) for a in report["accounts"])
    users = sum(len({k["user"] for k in a["keys"]}) for a in report["accounts"])
    per_user = (counts["ListAccessKeys"] + counts["ListUserTags"] + counts["GetAccessKeyLastUsed"]
                + counts["ListAttachedUserPolicies"])
    unaudited = [a["account"] for a in report["accounts"] if a.get("error")]
    reports = counts["GenerateCredentialReport"] + counts["GetCredentialReport"]
    print(f"accounts: {len(report['accounts'])} (the management account and {args.accounts} members), "
          f"{len(unaudited)} reported not audited ({args.no_role} without the role)")
    print(f"users with keys: {users}, keys: {keys}")
    print(f"wall time: median {statistics.median(times):.2f} s of {args.reps} runs ({', '.join(f'{t:.2f}' for t in times)}); "
          f"peak RSS {max(peaks):.0f} MiB")
    print(f"IAM calls per user with keys: {per_user / max(users, 1):.2f} "
          f"(ListAccessKeys {counts['ListAccessKeys']}, ListUserTags {counts['ListUserTags']}, "
          f"GetAccessKeyLastUsed {counts['GetAccessKeyLastUsed']}, "
          f"ListAttachedUserPolicies {counts['ListAttachedUserPolicies']})")
    print(f"credential report calls per account: {reports / (args.accounts + 1):.2f} "
          f"(Generate {counts['GenerateCredentialReport']}, Get {counts['GetCredentialReport']}); "
          f"AssumeRole {counts['AssumeRole']}, ListAccounts {counts['ListAccounts']}")
    if prowler_runs:
        mean = statistics.mean(t for _, t, _ in prowler_runs)
        ours = {a["account"]: a for a in report["accounts"]}
        print(f"Prowler {len(prowler_runs)} accounts, one run each: mean {mean:.1f} s per account "
              f"({', '.join(f'{t:.1f}' for _, t, _ in prowler_runs)}); for all {args.accounts + 1} "
              f"accounts, estimated {mean * (args.accounts + 1):.0f} s")
        for account, _, (failed, passed) in prowler_runs:
            by_check = Counter(check for check, _ in failed)
            audited = ours.get(account, {})
            found = Counter(f for k in audited.get("keys", []) for f in k["findings"])
            found.update(f for c in audited.get("credentials", []) for f in c["findings"])
            print(f"  account {account}: Prowler FAIL {dict(by_check)}, {passed} passed; "
                  f"rekey findings {dict(found)}")
    moto.stop()


if __name__ == "__main__":
    main()
