"""Progress reports of long fits: a live tqdm bar on terminals and in notebooks, lines elsewhere."""

import sys
import time

__all__ = ["Progress"]


def _interactive():
    """True on a terminal or in a Jupyter kernel, where a live bar renders."""
    if "ipykernel" in sys.modules:
        try:
            shell = sys.modules["IPython"].get_ipython()
        except (KeyError, AttributeError):
            shell = None
        if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
            return True
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """Report the epochs of one training run.

    Parameters
    ----------
    total : int
        Most epochs the run may take (the bar's end; training may stop earlier).
    verbose : int or bool
        Nothing is reported when false.
    description : str, default="fit"
        Label of the bar.
    bar : bool or None, default=None
        Force the live bar on or off; by default it is on where it renders (a terminal
        or a notebook) and plain lines are printed to stdout elsewhere, as logs want.
    unit : str, default="epoch"
        What the bar counts.
    """

    def __init__(self, total, verbose, description="fit", bar=None, unit="epoch"):
        self.verbose = bool(verbose)
        self.description = description
        self._bar = None
        self._start = time.perf_counter()
        if not self.verbose:
            return
        if bar is None:
            bar = _interactive()
        if bar:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=description, unit=unit, leave=True, dynamic_ncols=True)

    def update(self, epoch, loss, validation_score=None, note=None):
        """Report a finished epoch (1-based) with its training loss and validation score."""
        if not self.verbose:
            return
        if self._bar is not None:
            postfix = {"loss": f"{loss:.6g}"}
            if validation_score is not None:
                postfix["val"] = f"{validation_score:.4f}"
            if note:
                postfix["note"] = note
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)
            return
        line = f"Iteration {epoch}, loss = {loss:.8f}"
        if validation_score is not None:
            line += f", validation score = {validation_score:.6f}"
        if note:
            line += f" ({note})"
        print(line, flush=True)

    def step(self, line, short=None):
        """Report one finished unit of work: ``line`` in logs, ``short`` beside a live bar."""
        if not self.verbose:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(short or line, refresh=False)
            self._bar.update(1)
            return
        print(line, flush=True)

    def close(self, message=None):
        """End the report, with an optional closing message."""
        if not self.verbose:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if message:
            print(f"{message} ({time.perf_counter() - self._start:.1f} s)", flush=True)
