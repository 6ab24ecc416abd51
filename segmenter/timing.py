"""The clip timeline's rules, one place for the remux path (`clip`) and for concatenation
(`formats.mp4concat`): MPEG-TS's 90 kHz clock and its 33-bit wrap, what counts as a publisher
restart, and the step a restart is spliced on with. A leaf: it imports nothing internal."""

from __future__ import annotations

from fractions import Fraction

TS_HZ = 90_000  # MPEG-TS timestamps tick at 90 kHz...
TS_TIME_BASE = Fraction(1, TS_HZ)
PTS_WRAP = 1 << 33  # ...and are 33 bits wide

# A jump in decode time larger than this (or going back) is a publisher discontinuity: the
# clip's timeline continues one frame later instead of freezing or failing to mux.
MAX_DTS_JUMP_S = 2.0
# The step of that splice while no frame duration is known yet (25 fps).
DEFAULT_FRAME_S = Fraction(1, 25)
