"""Runs moto's IAM/STS-compatible server on 127.0.0.1 for rekey's tests and demo.

Binds a free port, prints it on stdout, and shuts down when its stdin closes, so the
server never outlives the test process (or demo script) that started it, even if that
process is killed.
"""

import logging
import os
import sys

from moto.server import ThreadedMotoServer


def current_follows_its_stage() -> None:
    """moto 5.2.5's UpdateSecretVersionStage moves the AWSCURRENT stage but not the
    version a read naming no stage gets, nor the one the next PutSecretValue makes
    AWSPREVIOUS; AWS moves all three together. rekey's Secrets Manager hub promotes a
    verified key this way, so the emulator is made to answer as AWS does."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    def update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        answer = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    SecretsManagerBackend.update_secret_version_stage = update


def an_empty_event_history() -> None:
    """moto 5.2.5 keeps no CloudTrail event history and answers LookupEvents with a
    500 (not implemented), which the SDK retries. AWS answers an account whose history
    holds nothing for the key with no events: so does this. (The fault proxy keeps a
    real history of the calls it passes, for the tests of what a leaked key did.)"""
    import json

    from moto.cloudtrail.responses import CloudTrailResponse

    def lookup_events(self):
        return json.dumps({"Events": []})

    CloudTrailResponse.lookup_events = lookup_events


def check_every_request(port: int) -> None:
    """`--checked`: AWS's managed policies loaded, and from now on every request's
    signature checked and its action evaluated against the signer's policies, as AWS
    does (a deleted key refused, an explicit Deny winning). An administrator is made
    first, while requests are not checked yet; its key is printed for the tests'
    own calls."""
    import boto3
    import requests

    endpoint = f"http://127.0.0.1:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAADMIN0000000000",
        aws_secret_access_key="admin",
    )
    iam.create_user(UserName="rekey-test-admin")
    iam.attach_user_policy(
        UserName="rekey-test-admin",
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    key = iam.create_access_key(UserName="rekey-test-admin")["AccessKey"]
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    print(key["AccessKeyId"], key["SecretAccessKey"], flush=True)


def main() -> None:
    checked = "--checked" in sys.argv[1:]
    if checked:
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    current_follows_its_stage()
    an_empty_event_history()
    # One line per request on stderr would bury the test output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    print(port, flush=True)
    if checked:
        check_every_request(port)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
