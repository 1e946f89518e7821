"""Signals become one exception, held back while a run is being recorded (real signals)."""

from __future__ import annotations

import os
import signal

import pytest

from orchestrator.campaign.interrupts import Interrupted, Interrupts


def test_sigterm_raises_interrupted_with_the_shell_exit_code() -> None:
    with Interrupts(), pytest.raises(Interrupted) as exc:
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # give the handler a chance to run
    assert exc.value.exit_code == 143 and str(exc.value) == "interrupted by SIGTERM"


def test_a_signal_during_a_deferred_block_is_raised_after_it() -> None:
    done = []
    with Interrupts() as interrupts, pytest.raises(Interrupted):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("recorded")  # not cut short
        done.append("after")  # never reached: raised at the end of the block
    assert done == ["recorded"]


def test_a_second_signal_while_stopping_is_ignored() -> None:
    with Interrupts():
        with pytest.raises(Interrupted):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)
        os.kill(os.getpid(), signal.SIGTERM)  # the recording of the aborted run goes on
        signal.sigtimedwait([], 0)


def test_previous_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with Interrupts():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
