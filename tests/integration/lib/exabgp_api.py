#!/usr/bin/env python3
"""ExaBGP API bridge process, started by ExaBGP itself (`process ... { run ... }`).

    exabgp_api.py COMMAND_FIFO EVENTS_FILE

ExaBGP reads API commands from our stdout and writes its JSON events (state
changes, received UPDATEs, NOTIFICATIONs) and command acknowledgements
("done" / "error") to our stdin. This bridge:
  * copies every line written to COMMAND_FIFO to stdout (so the test harness
    can announce and withdraw at run time with a plain write to the FIFO);
  * appends every line ExaBGP sends to EVENTS_FILE (flushed per line), which
    the harness parses for neighbour state, received routes and acks.
It exits as soon as ExaBGP closes our stdin (ExaBGP stopped), so it never
outlives its daemon.
"""
import os
import sys
import threading


def main():
    fifo, events = sys.argv[1], sys.argv[2]

    def pump():
        with open(events, 'a', encoding='utf-8') as out:
            for line in sys.stdin:
                out.write(line)
                out.flush()
        os._exit(0)

    threading.Thread(target=pump, daemon=True).start()
    # O_RDWR: we hold a writer ourselves, so the FIFO never reports EOF when
    # the harness closes its end between commands.
    fd = os.open(fifo, os.O_RDWR)
    with os.fdopen(fd, 'r', encoding='utf-8') as f:
        for line in f:
            if not line.strip():
                continue
            try:
                sys.stdout.write(line if line.endswith('\n') else line + '\n')
                sys.stdout.flush()
            except BrokenPipeError:
                os._exit(0)


if __name__ == '__main__':
    main()
