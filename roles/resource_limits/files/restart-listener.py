#!/usr/bin/python3
"""benchlab supervisord event listener: records unexpected exits to the restart log.

supervisord restarts a program that exits unexpectedly (autorestart); each such exit is
one line in the log, which benchlab-service-exporter counts as
benchlab_service_restarts_total{service=<program>}.
Line format: <UTC ISO time> service=<name> group=<group> pid=<pid> from_state=<state>
"""

import sys
import time

LOG = sys.argv[1] if len(sys.argv) > 1 else "/var/log/benchlab/restarts.log"


def tokens(text):
    return dict(item.split(":", 1) for item in text.split() if ":" in item)


def main():
    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        header = tokens(sys.stdin.readline())
        payload = sys.stdin.read(int(header.get("len", "0")))
        fields = tokens(payload.splitlines()[0] if payload else "")
        if header.get("eventname") == "PROCESS_STATE_EXITED" and fields.get("expected") == "0":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            with open(LOG, "a", encoding="utf-8") as log:
                log.write(
                    f"{stamp} service={fields.get('processname')} group={fields.get('groupname')}"
                    f" pid={fields.get('pid')} from_state={fields.get('from_state')}\n"
                )
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
