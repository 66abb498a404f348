"""The national-quarter benchmark (`make bench`); see bench/run.py."""


def worker_dies_on_sigterm() -> None:
    """A worker process's initializer: SIGTERM ends it at once.

    ``python -m bench.run`` turns SIGTERM into KeyboardInterrupt so that its stages stop
    cleanly, and forked workers inherit that handler; a worker of a process pool catches the
    KeyboardInterrupt as a task's failure and goes on with its next task, so terminating it
    took seconds. The main process stops its workers with SIGTERM when it is interrupted."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
