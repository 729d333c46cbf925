"""Runs moto's IAM/STS-compatible server on 127.0.0.1 for rekey's tests and demo.

Binds a free port, prints it on stdout, and shuts down when its stdin closes, so the
server never outlives the test process (or demo script) that started it, even if that
process is killed.
"""

import logging
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


def main() -> None:
    current_follows_its_stage()
    # One line per request on stderr would bury the test output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
