"""Runs moto's IAM/STS-compatible server on 127.0.0.1 for rekey's tests and demo.

Binds a free port, prints it on stdout, and shuts down when its stdin closes, so the
server never outlives the test process (or demo script) that started it, even if that
process is killed.
"""

import logging
import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    # One line per request on stderr would bury the test output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
