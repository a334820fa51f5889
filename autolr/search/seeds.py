"""The seeds a study hands its trials: one per trial number, derived from the study's seed."""

from __future__ import annotations

import numpy as np


def trial_seed(study_seed: int, number: int) -> int:
    """Trial ``number``'s seed: ``SeedSequence([study_seed, number])``'s first 31-bit word."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0] % 2**31)
